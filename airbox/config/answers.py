"""Where settings come from, and how the layers combine.

Lowest to highest precedence: saved settings of an earlier run < answers file <
environment < flags. Prompts (``airbox.config.prompts``) fill what is still missing.
Everything here works on plain mappings shaped like the answers file.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from airbox.config.yamlfile import YamlProblem, load_yaml
from airbox.errors import InvalidSettings, Problem
from airbox.redact import REDACTOR

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Environment variables that stand for answers (the README, "Settings": **Environment**).
ENV_ANSWERS: dict[str, tuple[str, ...]] = {
    "AIRBYTE_CLIENT_ID": ("registration", "clientId"),
    "AIRBYTE_CLIENT_SECRET": ("registration", "clientSecret"),
    "DATAPLANE_CLIENT_ID": ("dataPlane", "clientId"),
    "DATAPLANE_CLIENT_SECRET": ("dataPlane", "clientSecret"),
}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged into a copy of ``base``; mappings merge, anything else replaces."""
    merged: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def get_path(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def schema() -> dict[str, Any]:
    text = resources.files("airbox.assets").joinpath("answers.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def expand_vars(data: Any, environ: Mapping[str, str], path: str = "") -> tuple[Any, list[Problem]]:
    """Replace ``${VAR}`` in every string; an unset variable is a problem naming it."""
    problems: list[Problem] = []
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out[key], sub = expand_vars(value, environ, f"{path}.{key}" if path else str(key))
            problems.extend(sub)
        return out, problems
    if isinstance(data, list):
        items = []
        for index, value in enumerate(data):
            item, sub = expand_vars(value, environ, f"{path}[{index}]")
            items.append(item)
            problems.extend(sub)
        return items, problems
    if isinstance(data, str):

        def replace(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in environ:
                problems.append(
                    Problem(
                        path,
                        f"environment variable {var} is not set",
                        f"export {var}=... before running airbox, or write the value",
                    )
                )
                return match.group(0)
            return environ[var]

        return _VAR.sub(replace, data), problems
    return data, problems


def schema_problems(data: Any) -> list[Problem]:
    """Structural problems (unknown keys, wrong types, bad enum values) against the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for key in extra:
                names = sorted(error.schema.get("properties", {}))
                field = f"{where}.{key}" if error.absolute_path else key
                problems.append(
                    Problem(field, "is not a known setting", did_you_mean(str(key), names))
                )
            continue
        if error.validator == "enum":
            allowed = ", ".join(str(v) for v in error.validator_value)
            problems.append(Problem(where, f"{error.instance!r} is not allowed", f"use {allowed}"))
            continue
        if error.validator == "oneOf" and "errorMessage" in error.schema:
            # The schema's own words for a value that fits none of its forms.
            problems.append(Problem(where, str(error.schema["errorMessage"])))
            continue
        message = error.message
        # Never echo a secret back: the message of a type error contains the value.
        if error.validator == "type":
            message = f"must be of type {error.validator_value}"
        problems.append(Problem(where, message))
    return problems


def did_you_mean(key: str, names: list[str]) -> str:
    """The fix for an unknown key: the closest known one, then the whole list."""
    import difflib

    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    lowered = {name.lower(): name for name in names}
    guess = close[0] if close else lowered.get(key.lower())
    known = "use one of: " + ", ".join(names)
    return f"did you mean {guess}? ({known})" if guess else known


def load_answers_file(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read, expand and structurally check an answers file; raise with every problem."""
    environ = os.environ if environ is None else environ
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidSettings(
            [Problem("--answers", f"file {path} does not exist", "check the path")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSettings([Problem("--answers", f"cannot read {path}: {exc}")]) from None
    try:
        # The parser's own words may quote the file, which holds secrets: position only.
        data = load_yaml(text, quote=False)
    except YamlProblem as exc:
        raise InvalidSettings(
            [
                Problem(
                    "(file)",
                    exc.reason,
                    "fix the YAML (indentation, quotes, colons); write values out "
                    "rather than nesting aliases",
                )
            ],
            source=source,
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidSettings(
            [Problem("(file)", "must be a YAML mapping of settings", "see assets/*.yaml")],
            source=source,
        )
    expanded, problems = expand_vars(data, environ)
    register_secrets(expanded)
    if problems:
        # Unset variables first: the rest of the checks would only echo them.
        raise InvalidSettings(problems, source=source)
    result: dict[str, Any] = expanded
    return result


# The proxy variables every HTTP client reads, upper case first (kind's order): at install
# time they become the ``network`` answers, saved so later commands use the same proxy.
PROXY_ENV: dict[str, str] = {
    "HTTPS_PROXY": "httpsProxy",
    "HTTP_PROXY": "httpProxy",
    "NO_PROXY": "noProxy",
}


def env_network(environ: Mapping[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """(the ``network`` answers the proxy variables give, the variables used). Only with a
    proxy: a NO_PROXY alone says nothing to save."""
    environ = os.environ if environ is None else environ
    network: dict[str, Any] = {}
    used: list[str] = []
    for var, key in PROXY_ENV.items():
        for name in (var, var.lower()):
            if environ.get(name, "").strip():
                network[key] = environ[name].strip()
                used.append(name)
                break
    if not network.keys() & {"httpsProxy", "httpProxy"}:
        return {}, []
    data = {"network": network}
    register_secrets(data)
    return data, used


def env_answers(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    for var, path in ENV_ANSWERS.items():
        if environ.get(var):
            set_path(data, path, environ[var])
    register_secrets(data)
    return data


def register_secrets(answers: Mapping[str, Any]) -> None:
    """Tell the redactor every secret value these answers hold."""
    from airbox.config.settings import inline_service_account, key_file_paths, secret_paths

    for path in secret_paths():
        value = get_path(answers, path)
        if isinstance(value, str):
            REDACTOR.add(value)
    user = get_path(answers, ("images", "pullSecret", "username"))
    password = get_path(answers, ("images", "pullSecret", "password"))
    if isinstance(password, str) and password:
        import base64

        # Registries and the pull Secret carry the pair as base64("user:password").
        REDACTOR.add(base64.b64encode(f"{user or ''}:{password}".encode()).decode())
    for path in key_file_paths():
        content = inline_service_account(get_path(answers, path))
        if content is not None:
            REDACTOR.add(content, *_key_secrets(content))
    register_proxy_secrets(answers)


def register_proxy_secrets(answers: Mapping[str, Any]) -> None:
    """The proxy's password, never the whole URL: the URL is shown (without it), and a
    tool's environment keeps a variable whose whole value is a known secret out."""
    import base64
    from urllib.parse import unquote, urlsplit

    from airbox.config.settings import proxy_passwords

    for key in ("httpsProxy", "httpProxy"):
        url = get_path(answers, ("network", key))
        if not isinstance(url, str):
            continue
        passwords = proxy_passwords(url)
        REDACTOR.add(*passwords)
        try:
            user = unquote(urlsplit(url).username or "")
        except ValueError:
            user = ""
        for password in passwords:
            # The Proxy-Authorization header carries base64("user:password").
            REDACTOR.add(base64.b64encode(f"{user}:{unquote(password)}".encode()).decode())


def _key_secrets(content: str) -> list[str]:
    """The private key inside a service account key's JSON (masked on its own too)."""
    try:
        data = json.loads(content)
    except ValueError:
        return []
    key = data.get("private_key") if isinstance(data, dict) else None
    return [key] if isinstance(key, str) and key else []


def split_secrets(answers: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(answers without secret values, only the secret values): saved to separate files."""
    from airbox.config.settings import inline_service_account, key_file_paths, secret_paths

    public = copy.deepcopy(dict(answers))
    secret: dict[str, Any] = {}
    # A key file's path is public; the key itself, given inline, is a secret.
    inline = [
        p for p in key_file_paths() if inline_service_account(get_path(public, p)) is not None
    ]
    for path in [*secret_paths(), *inline]:
        value = get_path(public, path)
        if value in (None, ""):
            continue
        set_path(secret, path, value)
        parent = get_path(public, path[:-1]) if len(path) > 1 else public
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    # A proxy URL with a password: whole in the secrets, without the password in public
    # (so settings.yaml still says which proxy); the secrets' copy wins when both load.
    from airbox.config.settings import proxy_passwords, without_password

    network = public.get("network")
    if isinstance(network, dict):
        for key in ("httpsProxy", "httpProxy"):
            url = network.get(key)
            if isinstance(url, str) and proxy_passwords(url):
                set_path(secret, ("network", key), url)
                network[key] = without_password(url)
    return prune(public), secret


def prune(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "values":
            value = prune(value)
            if not value:
                continue
        out[key] = value
    return out


class _NoAliases(yaml.SafeDumper):
    """A value used twice is written twice: ``&id001``/``*id001`` read as noise."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_NoAliases, sort_keys=False, default_flow_style=False)
