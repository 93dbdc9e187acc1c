"""The answers sections that say where the install gets what it pulls and how it reaches
the outside: ``images`` (a private registry or mirror), ``bundle`` (an offline bundle
instead of registries) and ``network`` (an HTTP proxy). Each check lists every problem of
its section; ``config/validate.py`` runs them in its order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airbox.config.rules import (
    _mapping,
    _nonempty,
    no_proxy_entries,
    proxy_passwords,
    proxy_url_problem,
)
from airbox.errors import Problem


def bundle_problems(answers: Mapping[str, Any]) -> list[Problem]:
    """``bundle``: an existing file, for the kind cluster airbox makes, and not combined
    with the sources it replaces (a chart source, a registry)."""
    bundle = answers.get("bundle")
    if not _nonempty(bundle):
        return []
    found: list[Problem] = []
    if not isinstance(bundle, str):
        return [
            Problem(
                "bundle",
                "must be the path of a bundle file",
                "bundle: /srv/airbox-bundle.tar (made by `airbox bundle create`)",
            )
        ]
    path = Path(bundle).expanduser()
    if not path.is_file():
        found.append(
            Problem(
                "bundle",
                f"{bundle} does not exist" if not path.exists() else f"{bundle} is not a file",
                "give the file `airbox bundle create` wrote (--bundle FILE)",
            )
        )
    if _nonempty(_mapping(answers.get("cluster")).get("kubeContext")):
        found.append(
            Problem(
                "bundle",
                "works only with the kind cluster airbox creates",
                "for an existing cluster, push the images to your registry and "
                "set images.registry instead",
            )
        )
    if _nonempty(_mapping(answers.get("chart")).get("source")):
        found.append(
            Problem(
                "chart.source",
                "cannot be given with a bundle: the bundle carries the chart",
                "leave chart.source (--chart) out",
            )
        )
    if _nonempty(_mapping(answers.get("images")).get("registry")):
        found.append(
            Problem(
                "images.registry",
                "cannot be given with a bundle: the bundle carries every image the install needs",
                "leave images out, or install from the registry without --bundle",
            )
        )
    return found


# host[:port] then optional /path segments, as image references name a registry.
_REGISTRY = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"(?::\d{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*/?$"
)
_IMAGES_KEYS = ("registry", "pullSecret", "caFile", "insecure")
_PULL_KEYS = ("username", "password", "dockerConfigJson")


def images_problems(images: Any) -> list[Problem]:
    """What is wrong with the ``images`` section (a private registry or mirror)."""
    found: list[Problem] = []

    def add(path: str, message: str, fix: str | None = None, *, missing: bool = False) -> None:
        found.append(Problem(path, message, fix, missing))

    if not isinstance(images, dict):
        add("images", "must be a mapping", "images: {registry: registry.example.com/mirror}")
        return found
    for key in images:
        if key not in _IMAGES_KEYS:
            add(f"images.{key}", "is not a field of images", "use " + ", ".join(_IMAGES_KEYS))
    registry = images.get("registry")
    if not _nonempty(registry):
        add(
            "images.registry",
            "is required with images",
            "name the registry (and path) images come from, e.g. "
            "registry.corp.example/airbyte-mirror",
            missing=True,
        )
    elif not isinstance(registry, str) or "://" in registry or not _REGISTRY.match(registry):
        add(
            "images.registry",
            f"{registry!r} is not a registry",
            "give host[:port][/path] without a scheme, e.g. registry.corp.example/airbyte-mirror",
        )
    insecure = images.get("insecure")
    if insecure is not None and not isinstance(insecure, bool):
        add(
            "images.insecure",
            "must be true or false",
            "true only for a registry that speaks plain HTTP",
        )
    ca_file = images.get("caFile")
    if _nonempty(ca_file):
        path = Path(str(ca_file)).expanduser()
        if not path.is_file():
            add(
                "images.caFile",
                f"{ca_file} does not exist",
                "give the path of the PEM file of the CA that signed the registry's certificate",
            )
        elif "-----BEGIN CERTIFICATE-----" not in path.read_text(
            encoding="utf-8", errors="replace"
        ):
            add(
                "images.caFile",
                f"{ca_file} is not a PEM certificate",
                "give the CA certificate in PEM (-----BEGIN CERTIFICATE-----)",
            )
        if insecure is True:
            add(
                "images.insecure",
                "cannot be combined with caFile",
                "plain HTTP has no certificate: drop caFile, or drop insecure to use TLS",
            )
    pull = images.get("pullSecret")
    if pull is None:
        return found
    if not isinstance(pull, dict):
        add(
            "images.pullSecret",
            "must be a mapping",
            "pullSecret: {username: ..., password: ${REGISTRY_PASSWORD}}",
        )
        return found
    for key in pull:
        if key not in _PULL_KEYS:
            add(
                f"images.pullSecret.{key}",
                "is not a field of pullSecret",
                "use username and password, or dockerConfigJson",
            )
    given = {key for key in _PULL_KEYS if _nonempty(pull.get(key))}
    if "dockerConfigJson" in given:
        if given & {"username", "password"}:
            add(
                "images.pullSecret",
                "gives both dockerConfigJson and username/password",
                "keep one of them",
            )
        text = pull["dockerConfigJson"]
        try:
            config = json.loads(text) if isinstance(text, str) else None
        except json.JSONDecodeError:
            config = None
        # Never echo it: it holds the password.
        if not isinstance(config, dict) or not isinstance(config.get("auths"), dict):
            add(
                "images.pullSecret.dockerConfigJson",
                'is not a Docker config (JSON with an "auths" mapping)',
                "give the content of a ~/.docker/config.json, e.g. ${REGISTRY_DOCKER_CONFIG}",
            )
    else:
        for key in ("username", "password"):
            if key not in given:
                add(
                    f"images.pullSecret.{key}",
                    "is required with the other registry credential",
                    "give username and password (or dockerConfigJson)",
                    missing=True,
                )
            elif not isinstance(pull[key], (str, int)):
                add(f"images.pullSecret.{key}", "must be a string")
        if "username" in given and ":" in str(pull["username"]):
            add(
                "images.pullSecret.username",
                "cannot contain ':'",
                "registries take user:password; a ':' in the user name breaks it",
            )
    return found


_NETWORK_KEYS = ("httpsProxy", "httpProxy", "noProxy")
# A NO_PROXY entry: *, a host or domain (with an optional leading dot or *.), an IPv4/IPv6
# address or CIDR range, each with an optional :port.
_NO_PROXY_ENTRY = re.compile(
    r"^(\*|(\*?\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?(/\d{1,3})?"
    r"(:\d{1,5})?|\[?[0-9A-Fa-f:.]+\]?(/\d{1,3})?)$"
)


def network_problems(network: Any) -> list[Problem]:
    """What is wrong with the ``network`` section (an HTTP proxy)."""
    from airbox.redact import MIN_SECRET_LENGTH

    found: list[Problem] = []
    fix = "give http://[user:password@]host[:port], e.g. http://proxy.corp.example:3128"
    if not isinstance(network, dict):
        return [
            Problem(
                "network",
                "must be a mapping",
                "network: {httpsProxy: http://proxy.corp.example:3128}",
            )
        ]
    for key in network:
        if key not in _NETWORK_KEYS:
            found.append(
                Problem(
                    f"network.{key}", "is not a field of network", "use " + ", ".join(_NETWORK_KEYS)
                )
            )
    given = [key for key in ("httpsProxy", "httpProxy") if _nonempty(network.get(key))]
    if not given:
        found.append(
            Problem(
                "network.httpsProxy",
                "is required with network",
                "give the proxy, e.g. httpsProxy: http://proxy.corp.example:3128",
            )
        )
    for key in given:
        value = network[key]
        problem = proxy_url_problem(value)
        if problem:
            found.append(Problem(f"network.{key}", problem, fix))
            continue
        for password in proxy_passwords(value)[:1]:
            if len(password) < MIN_SECRET_LENGTH:
                found.append(
                    Problem(
                        f"network.{key}",
                        f"has a password shorter than {MIN_SECRET_LENGTH} characters: airbox "
                        "could not keep it out of its output",
                        "use the real credential",
                    )
                )
    no_proxy = network.get("noProxy")
    if no_proxy is not None:
        if not isinstance(no_proxy, (str, list)) or (
            isinstance(no_proxy, list) and not all(isinstance(item, str) for item in no_proxy)
        ):
            found.append(
                Problem(
                    "network.noProxy",
                    "must be a comma-separated string or a list of hosts",
                    "e.g. noProxy: .corp.example,10.0.0.0/8",
                )
            )
        else:
            bad = [
                entry for entry in no_proxy_entries(no_proxy) if not _NO_PROXY_ENTRY.match(entry)
            ]
            if bad:
                found.append(
                    Problem(
                        "network.noProxy",
                        "has entries that are not hosts, "
                        "domains or address ranges: " + ", ".join(map(repr, bad)),
                        "e.g. noProxy: .corp.example,10.0.0.0/8,db.internal",
                    )
                )
    return found
