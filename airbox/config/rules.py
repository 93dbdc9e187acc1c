"""The rules a single answer must follow, whatever section it is in.

A DNS label, a URL, an AWS region or key id, a service account key, a bucket name, a
proxy URL: each as a function that says why a value does not fit (never echoing a
secret). ``config/validate.py`` applies them section by section; the prompts apply
``field_problem`` to what is typed, so a value typed and a value written meet the same
rules.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airbox.config.specs import BUCKET_KEYS, STORAGES, FieldSpec
from airbox.errors import Problem

# kind names the node container "<cluster>-control-plane" and uses it as the node's
# host name: that must stay a DNS label (63 characters), so with the "airbox-" prefix
# the data plane name has 63 - len("airbox-") - len("-control-plane") = 42 to spare.
CLUSTER_PREFIX = "airbox-"
NODE_SUFFIX = "-control-plane"
MAX_NAME_LENGTH = 63 - len(CLUSTER_PREFIX) - len(NODE_SUFFIX)


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_REGION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# Long-term keys start with AKIA, temporary (STS) ones with ASIA; both are 20 characters.
_AWS_ACCESS_KEY_ID = re.compile(r"^A[KS]IA[A-Z0-9]{16}$")


def is_dns_label(value: str, max_length: int = 63) -> bool:
    return len(value) <= max_length and bool(_DNS_LABEL.match(value))


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(value: Any, *, allow_http: str = "loopback") -> str | None:
    """Why ``value`` is not an acceptable URL, or None.

    ``allow_http``: "loopback" (http:// only for 127.0.0.0/8, ::1 and localhost),
    "any" or "never".
    """
    if not isinstance(value, str) or not value:
        return "must be a URL such as https://example.com"
    shown = repr(without_userinfo(value))
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:  # an invalid port or IPv6 literal
        return f"{shown} is not an http(s) URL"
    if parts.scheme not in ("http", "https") or not hostname:
        return f"{shown} is not an http(s) URL"
    if parts.username or parts.password:
        return f"{shown} must not carry credentials in the URL"
    if parts.scheme == "http":
        loopback = is_loopback_host(hostname)
        if allow_http == "never" or (allow_http == "loopback" and not loopback):
            return f"{shown} must use https:// (http:// is accepted only for loopback hosts)"
    return None


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``: safe to echo back."""
    return re.sub(
        r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#@\s]*@",
        lambda m: (m.group(1) or "") + "***@",
        url,
        count=1,
    )


def without_password(url: str) -> str:
    """``url`` with the password of its ``user:password@`` dropped (the user kept)."""
    from urllib.parse import urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return without_userinfo(url)
    # The host follows the last '@' (as urlsplit reads it): a password may hold one.
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}@{host}"))


def proxy_url_problem(value: Any) -> str | None:
    """Why ``value`` is not a proxy URL (http(s)://[user:password@]host[:port]), or None.
    Never echoes the password."""
    if not isinstance(value, str) or not value.strip():
        return "must be a URL such as http://proxy.example.com:3128"
    shown = repr(without_userinfo(value))
    try:
        parts = urlsplit(value)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return f"{shown} has an invalid port (a number from 1 to 65535)"
    if parts.scheme not in ("http", "https"):
        return f"{shown} is not an http:// or https:// URL"
    if not host:
        return f"{shown} has no host"
    if port == 0:
        return f"{shown} has an invalid port (a number from 1 to 65535)"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{shown} has a path; a proxy is only scheme, host and port"
    return None


def no_proxy_entries(value: Any) -> list[str]:
    """``noProxy`` as a list: a comma-separated string (as NO_PROXY is) or a list."""
    items = (
        value.split(",")
        if isinstance(value, str)
        else ([str(v) for v in value] if isinstance(value, list) else [])
    )
    return [item.strip() for item in items if item.strip()]


def proxy_passwords(*urls: str | None) -> list[str]:
    """The passwords in proxy URLs, as written and percent-decoded."""
    from urllib.parse import unquote

    found: list[str] = []
    for url in urls:
        if not url:
            continue
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if not password:
            # An unparseable URL may still hold user:password@: mask what sits there.
            match = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:]*:([^/@]+)@", url)
            password = match.group(1) if match else None
        if password:
            found += [password, unquote(password)]
    return list(dict.fromkeys(found))


# How an inline key is named in messages: its content is a credential, never echoed.
INLINE_KEY = "the service account key given as JSON"


def inline_service_account(value: Any) -> str | None:
    """The key's JSON text when ``value`` is the key itself (pasted JSON, or a mapping an
    answers file parsed), None when it is a path."""
    if isinstance(value, Mapping):
        return json.dumps(dict(value))
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return value.strip()
    return None


def load_service_account(value: Any) -> tuple[str | None, str | None]:
    """A Google service account key, from its file's path or its JSON: (content, problem).

    A problem never quotes the key: an OS error on a pasted key would repeat its fields.
    """
    content = inline_service_account(value)
    if content is not None:
        source = INLINE_KEY
    else:
        path = source = str(value)
        file = Path(path).expanduser()
        try:
            content = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, f"file {path} does not exist"
        except IsADirectoryError:
            return None, f"{path} is a directory, not a key file"
        except UnicodeDecodeError:
            return None, f"{path} is not a text (JSON) file"
        except OSError as exc:
            # Only the reason: the OS error repeats the path, which may be a mistyped key.
            return None, f"cannot read {path}: {exc.strerror or type(exc).__name__}"
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        return None, f"{source} is not valid JSON ({exc.msg}, line {exc.lineno})"
    if not isinstance(data, dict) or data.get("type") != "service_account":
        return None, (f'{source} is not a service account key (its "type" is not service_account)')
    missing = [k for k in ("project_id", "private_key", "client_email") if not data.get(k)]
    if missing:
        return None, f"{source} lacks {', '.join(missing)}"
    return content, None


def normalize_buckets(bucket: Any) -> dict[str, str]:
    """``bucket`` may be one name for all four uses, or a mapping with some of them.

    Uses left out fall back to the first one given, so one bucket serves them all.
    """
    if isinstance(bucket, str):
        return dict.fromkeys(BUCKET_KEYS, bucket)
    given = {k: str(v) for k, v in (bucket or {}).items() if v}
    first = next(iter(given.values()), "")
    return {key: given.get(key, first) for key in BUCKET_KEYS}


def _shown(fspec: FieldSpec, value: Any) -> str:
    """How a wrong value is named in a message: a secret never echoed back."""
    return "the value" if fspec.masked else repr(value)


_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_GCS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_AZURE_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
# The bucket kinds of the storage rows (``TypeSpec.bucket``) and the providers' naming
# rules, checked so a typo such as ``Acme_Airbyte`` is caught before the data plane
# fails its first sync.
_BUCKET_RULES = {
    "s3-bucket": "S3 bucket names are 3-63 lowercase letters, digits, '.' and '-', starting "
    "and ending with a letter or digit",
    "gcs-bucket": "Cloud Storage bucket names are 3-63 lowercase letters, digits, '-', '_' "
    "and '.', starting and ending with a letter or digit",
    "azure-container": "Azure container names are 3-63 lowercase letters, digits and single "
    "'-', starting and ending with a letter or digit",
}


def field_problem(fspec: FieldSpec, value: Any) -> tuple[str, str | None] | None:
    """(message, fix) when ``value`` does not fit the field, else None.

    Shared by the answers-file check and the prompts, so a value typed and a value
    written are held to the same rules. Secret values are never echoed back.
    """
    if fspec.kind in _BUCKET_RULES:
        name = str(value)
        if fspec.kind == "s3-bucket":
            ok = (
                bool(_S3_BUCKET.match(name))
                and ".." not in name
                and not re.match(r"^\d+\.\d+\.\d+\.\d+$", name)
                and not name.startswith("xn--")
            )
        elif fspec.kind == "gcs-bucket":
            parts_ok = all(0 < len(part) <= 63 for part in name.split("."))
            ok = (
                bool(_GCS_BUCKET.match(name))
                and parts_ok
                and not name.startswith("goog")
                and (len(name) <= 63 or "." in name)
            )
        else:
            ok = bool(_AZURE_CONTAINER.match(name))
        return None if ok else (f"{name!r} is not a valid name", _BUCKET_RULES[fspec.kind])
    if fspec.kind == "choice" and value not in fspec.choices:
        return f"{value!r} is not one of " + ", ".join(fspec.choices), None
    if fspec.kind == "url":
        problem = url_problem(value, allow_http="any")
        return (problem, "use https://host") if problem else None
    if fspec.kind == "vault-address":
        problem = url_problem(value, allow_http="any")
        if problem:
            return problem, "use the address VAULT_ADDR holds, e.g. https://vault.example.com:8200"
        if urlsplit(str(value)).path.rstrip("/") not in ("",):
            return (
                f"{value!r} has a path; the Vault address is only scheme, host and port",
                "drop the path (e.g. /v1/...): https://vault.example.com:8200",
            )
        return None
    if fspec.kind == "aws-region" and not _AWS_REGION.match(str(value)):
        return f"{value!r} is not an AWS region", "use a region such as us-west-2"
    if fspec.kind == "aws-key-id" and not _AWS_ACCESS_KEY_ID.match(str(value)):
        return (
            f"{_shown(fspec, value)} is not an AWS access key id",
            "it is 20 capital letters and digits starting with AKIA (or ASIA for "
            "temporary keys), e.g. AKIAIOSFODNN7EXAMPLE",
        )
    if fspec.kind == "uuid" and not is_uuid(str(value)):
        return (
            f"{_shown(fspec, value)} is not an id of the form 00000000-0000-0000-0000-000000000000",
            "copy it from the Azure portal: " + (fspec.where or fspec.label),
        )
    if fspec.kind == "tags" and not (
        isinstance(value, dict) and all(isinstance(k, str) for k in value)
    ):
        return "must be a mapping of tag names to values", "e.g. tags: {team: data}"
    if fspec.kind == "tags":
        # The platform reads tags as "key=value,key=value": a comma or "=" inside a tag,
        # or an empty one, would stop the launcher at start-up.
        for key, tag in value.items():
            text = "" if tag is None else str(tag)
            if (
                not key.strip()
                or not text.strip()
                or any(c in part for part in (key, text) for c in ",=")
            ):
                return (
                    f"the tag {key}: {text!r} cannot be passed on",
                    "use a non-empty name and value without ',' or '='",
                )
    if fspec.kind == "json-file":
        _, problem = load_service_account(value)
        return (
            (
                problem,
                "give the path of a Google service account key file, or the key's JSON itself",
            )
            if problem
            else None
        )
    if fspec.kind in ("text", "aws-key-id", "uuid") and not isinstance(value, (str, int)):
        return "must be a string", None
    return None


def bucket_problem(storage_type: str, name: str) -> tuple[str, str | None] | None:
    """(message, fix) when ``name`` cannot be a bucket (container, for Azure) of that type:
    its row's bucket rule (none for a store of the user's own, minio)."""
    spec = STORAGES[storage_type].bucket if storage_type in STORAGES else None
    return None if spec is None else field_problem(spec, name)


def _mapping(value: Any) -> dict[str, Any]:
    """A section as a mapping; a wrongly typed one is reported by the schema check."""
    return value if isinstance(value, dict) else {}


def _nonempty(value: Any) -> bool:
    return value is not None and value != "" and value != {} and value != []


def values_problems(values: Mapping[Any, Any]) -> list[Problem]:
    """What is wrong with the ``values:`` overrides: keys Helm cannot take (not strings),
    and credentials — found by key name (``apiKey``, ``password`` …), by an env-style
    ``{name: X_SECRET, value: …}`` entry, or by content (a known secret, a credential's
    shape, a URL with a password), at any depth, through lists too."""
    problems: list[Problem] = []
    for path in _non_string_keys(values, "values"):
        problems.append(
            Problem(
                path,
                "has a key that is not a string",
                "quote the key (Helm values keys are strings)",
            )
        )
    for path in _credential_paths(values, "values"):
        problems.append(
            Problem(
                path,
                "looks like a credential in plain Helm values",
                "credentials belong in their section (dataPlane, secretsManager, storage, "
                "licenseKey) so they reach the cluster in a Secret, not in values.yaml",
            )
        )
    return problems


def _non_string_keys(data: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                found.append(f"{path}.{key!r}")
                continue
            found.extend(_non_string_keys(value, f"{path}.{key}"))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found.extend(_non_string_keys(item, f"{path}[{index}]"))
    return found


def _is_scalar_value(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != ""


def _credential_paths(data: Any, path: str) -> list[str]:
    from airbox.redact import is_secret_key, looks_like_credential

    found: list[str] = []
    if isinstance(data, dict):
        # An environment entry names its secret in "name", not in the key of its value.
        env_name = data.get("name")
        env_secret = isinstance(env_name, str) and is_secret_key(env_name)
        for key, value in data.items():
            where = f"{path}.{key}"
            if isinstance(value, (dict, list)):
                found.extend(_credential_paths(value, where))
            elif _is_scalar_value(value) and (
                (isinstance(key, str) and is_secret_key(key))
                or (env_secret and key == "value")
                or looks_like_credential(str(value))
            ):
                found.append(where)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            where = f"{path}[{index}]"
            if isinstance(item, (dict, list)):
                found.extend(_credential_paths(item, where))
            elif _is_scalar_value(item) and looks_like_credential(str(item)):
                found.append(where)
    return found
