"""Every problem with a mapping shaped like the answers file, listed at once.

``validate`` runs one function per section of the answers (``sections``, in the order
the problems are listed); each returns that section's problems and never stops at the
first. The secrets manager and the storage are parsed into typed sections in the same
pass (``config/section.py``, from the tables in ``config/specs.py``); the rules for
single values are in ``config/rules.py``; the checks of ``images``, ``bundle`` and
``network`` (where the install's images come from, how it reaches out) are in
``config/validate_network.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from airbox.config.rules import (
    _REGION_NAME,
    _SEMVER,
    MAX_NAME_LENGTH,
    _mapping,
    _nonempty,
    is_dns_label,
    is_uuid,
    url_problem,
    values_problems,
)
from airbox.config.section import Found, Section
from airbox.config.section import edition as _edition

# Re-exported: each section's check is named here with the others'.
from airbox.config.section import secrets_manager_problems as secrets_manager_problems
from airbox.config.section import storage_problems as storage_problems
from airbox.config.specs import secret_paths
from airbox.config.validate_network import bundle_problems, images_problems, network_problems
from airbox.errors import Problem


def _has_credentials(answers: Mapping[str, Any], root: str) -> bool:
    """Whether ``root`` (dataPlane or registration) gives a client id or secret."""
    section = _mapping(answers.get(root))
    return _nonempty(section.get("clientId")) or _nonempty(section.get("clientSecret"))


def name_problems(answers: Mapping[str, Any]) -> list[Problem]:
    """``name`` and ``namespace``."""
    found = Found()
    name = answers.get("name")
    if not _nonempty(name):
        found.add(
            "name",
            "is required",
            "choose a name such as us-west-1-dp (lowercase, digits, -)",
            missing=True,
        )
    elif not isinstance(name, str) or not is_dns_label(name, MAX_NAME_LENGTH):
        found.add(
            "name",
            f"{name!r} is not a valid data plane name",
            f"use at most {MAX_NAME_LENGTH} lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
    namespace = answers.get("namespace")
    if _nonempty(namespace) and (not isinstance(namespace, str) or not is_dns_label(namespace)):
        found.add(
            "namespace",
            f"{namespace!r} is not a valid Kubernetes namespace",
            "use lowercase letters, digits and '-' (at most 63)",
        )
    return found


def control_plane_problems(answers: Mapping[str, Any]) -> list[Problem]:
    found = Found()
    cp = _mapping(answers.get("controlPlane"))
    edition = _edition(answers)
    if edition not in ("cloud", "enterprise"):
        found.add(
            "controlPlane.edition",
            f"{edition!r} is not an edition",
            "use cloud (Enterprise Flex) or enterprise (self-managed control plane)",
        )
    if edition == "enterprise" and not _nonempty(cp.get("url")):
        found.add(
            "controlPlane.url",
            "is required for a self-managed control plane",
            "set it to your Airbyte URL, e.g. https://airbyte.example.com",
            missing=True,
        )
    for key in ("url", "apiUrl"):
        if _nonempty(cp.get(key)):
            problem = url_problem(cp[key])
            if problem:
                found.add(f"controlPlane.{key}", problem, "use https://host[/path]")
    return found


def credentials_problems(
    answers: Mapping[str, Any], *, require_credentials: bool = True
) -> list[Problem]:
    """``dataPlane`` (a registered data plane's credentials) and ``registration`` (an
    application's, to register one): each whole, and one of them unless
    ``require_credentials`` is off."""
    found = Found()
    dp = _mapping(answers.get("dataPlane"))
    reg = _mapping(answers.get("registration"))
    has_dp = _has_credentials(answers, "dataPlane")
    has_reg = _has_credentials(answers, "registration")
    if has_dp:
        for key in ("clientId", "clientSecret"):
            if not _nonempty(dp.get(key)):
                found.add(
                    f"dataPlane.{key}",
                    "is required with the other data plane credential",
                    "give both clientId and clientSecret of the registered data plane "
                    "(or set DATAPLANE_CLIENT_ID / DATAPLANE_CLIENT_SECRET)",
                    missing=True,
                )
    if has_reg:
        for key in ("clientId", "clientSecret"):
            if not _nonempty(reg.get(key)):
                found.add(
                    f"registration.{key}",
                    "is required to register a data plane",
                    "give the Airbyte application's client id and secret "
                    "(or set AIRBYTE_CLIENT_ID / AIRBYTE_CLIENT_SECRET)",
                    missing=True,
                )
        org = reg.get("organizationId")
        if _nonempty(org) and not is_uuid(str(org)):
            found.add(
                "registration.organizationId",
                f"{org!r} is not a UUID",
                "copy the organization id from Airbyte's Settings > Organization",
            )
        region = reg.get("region")
        if _nonempty(region) and not (is_uuid(str(region)) or _REGION_NAME.match(str(region))):
            found.add(
                "registration.region",
                f"{region!r} is not a region name or id",
                "use letters, digits, '-', '_', '.' or spaces (at most 63), or a region UUID",
            )
    if require_credentials and not has_dp and not has_reg:
        found.add(
            "dataPlane",
            "no credentials given",
            "give dataPlane.clientId/clientSecret of a registered data plane, or "
            "registration credentials (AIRBYTE_CLIENT_ID / AIRBYTE_CLIENT_SECRET) "
            "so airbox registers one",
            missing=True,
        )
    return found


def license_problems(answers: Mapping[str, Any]) -> list[Problem]:
    found = Found()
    edition = _edition(answers)
    if edition == "enterprise" and not _nonempty(answers.get("licenseKey")):
        found.add(
            "licenseKey",
            "is required for a self-managed (enterprise) control plane",
            "set licenseKey (for example to ${AIRBYTE_LICENSE_KEY})",
            missing=True,
        )
    return found


def chart_problems(answers: Mapping[str, Any]) -> list[Problem]:
    found = Found()
    chart = _mapping(answers.get("chart"))
    version = chart.get("version")
    if _nonempty(version) and not _SEMVER.match(str(version)):
        found.add(
            "chart.version", f"{version!r} is not a chart version", "use a version like 1.8.1"
        )
    source = chart.get("source")
    if _nonempty(source):
        src = str(source)
        if "://" in src:
            problem = url_problem(src, allow_http="any")
            if problem and not src.startswith("oci://"):
                found.add("chart.source", problem, "give a chart archive URL or a local path")
        elif not Path(src).expanduser().exists():
            found.add(
                "chart.source",
                f"{src} does not exist",
                "give the path of a chart directory or .tgz archive",
            )
    return found


def helm_values_problems(answers: Mapping[str, Any]) -> list[Problem]:
    """``values``: a mapping Helm can take, without credentials."""
    values = answers.get("values")
    if values is not None and not isinstance(values, dict):
        return [Problem("values", "must be a mapping of Helm values")]
    return values_problems(values) if isinstance(values, dict) else []


def workspaces_problems(answers: Mapping[str, Any]) -> list[Problem]:
    found = Found()
    workspaces = answers.get("workspaces")
    has_dp = _has_credentials(answers, "dataPlane")
    has_reg = _has_credentials(answers, "registration")
    if workspaces is not None:
        if not isinstance(workspaces, list) or not all(
            isinstance(w, str) and w.strip() for w in workspaces
        ):
            found.add(
                "workspaces",
                "must be a list of workspace names or ids",
                "for example: workspaces: [analytics-eu]",
            )
        elif not has_reg and not has_dp:
            pass  # credentials_problems reports it: no credentials at all
        elif not has_reg:
            found.add(
                "workspaces",
                "routing workspaces needs the Airbyte application's credentials",
                "set AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET (registration.clientId/"
                "clientSecret), or route them in Airbyte: Settings › Workspace › "
                "General › Region",
            )
    return found


def cluster_problems(answers: Mapping[str, Any]) -> list[Problem]:
    found = Found()
    cluster = _mapping(answers.get("cluster"))
    kubeconfig = cluster.get("kubeconfig")
    if _nonempty(kubeconfig) and not Path(str(kubeconfig)).expanduser().is_file():
        found.add(
            "cluster.kubeconfig", f"{kubeconfig} does not exist", "give an existing kubeconfig"
        )
    if _nonempty(kubeconfig) and not _nonempty(cluster.get("kubeContext")):
        found.add(
            "cluster.kubeContext",
            "is required with a kubeconfig",
            "name the context to use (kubectl config get-contexts)",
        )
    return found


def _optional(
    key: str, check: Callable[[Any], list[Problem]]
) -> Callable[[Mapping[str, Any]], list[Problem]]:
    """A section checked only when it is given."""
    return lambda answers: [] if answers.get(key) is None else check(answers[key])


Check = Callable[[Mapping[str, Any]], list[Problem]]


def sections(*, require_credentials: bool = True) -> tuple[Check, ...]:
    """The checks ``validate`` runs, in the order their problems are listed."""
    return (
        name_problems,
        control_plane_problems,
        lambda answers: credentials_problems(answers, require_credentials=require_credentials),
        license_problems,
        secrets_manager_problems,
        storage_problems,
        chart_problems,
        helm_values_problems,
        weak_secret_problems,
        workspaces_problems,
        _optional("images", images_problems),
        bundle_problems,
        _optional("network", network_problems),
        cluster_problems,
    )


def parse(
    answers: Mapping[str, Any], *, require_credentials: bool = True
) -> tuple[list[Problem], Section | None, Section | None]:
    """Every problem with ``answers`` and, built in the same pass, the secrets manager and
    the storage sections (None: absent, or beyond building)."""
    problems: list[Problem] = []
    built: dict[Check, Section | None] = {}
    for check in sections(require_credentials=require_credentials):
        found = check(answers)
        problems.extend(found)
        if isinstance(found, Found):
            built[check] = found.value
    return problems, built.get(secrets_manager_problems), built.get(storage_problems)


def validate(answers: Mapping[str, Any], *, require_credentials: bool = True) -> list[Problem]:
    """Every problem with ``answers``; an empty list means ``Settings.parse`` builds them.

    ``require_credentials``: a dry run may go without data plane credentials when
    registration credentials are given (registration happens at install time).
    """
    return parse(answers, require_credentials=require_credentials)[0]


def weak_secret_problems(answers: Mapping[str, Any]) -> list[Problem]:
    """Secrets too short to be masked safely. Masking replaces a known secret wherever it
    appears, so a value like ``root`` (a Vault dev token) would also match ``/root/...``
    and every ordinary word containing it; refusing it is the only choice that neither
    leaks it nor mangles paths and tool output."""
    from airbox.redact import MIN_SECRET_LENGTH

    found: list[Problem] = []
    for path in secret_paths():
        node: Any = answers
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            node = str(node)
        if isinstance(node, str) and 0 < len(node) < MIN_SECRET_LENGTH:
            found.append(
                Problem(
                    ".".join(path),
                    f"is too short to be a credential (fewer than {MIN_SECRET_LENGTH} "
                    "characters): airbox could not keep it out of its output",
                    "use the real credential"
                    + (
                        " (a Vault dev server: start it with a longer -dev-root-token-id)"
                        if path[-1] == "authToken"
                        else ""
                    ),
                )
            )
    return found
