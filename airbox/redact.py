"""Masking of secret values in anything airbox prints, logs or bundles.

Two layers: every secret value airbox knows (from the settings, the API, a token)
is registered and replaced verbatim — also in its base64 form, since Kubernetes
shows Secret data that way — and, for text airbox did not produce (tool output,
pod logs, Helm values), patterns catch the usual shapes of credentials.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable

MASK = "********"

# Shorter values would mask innocent words (a Vault dev token ``root`` is in ``/root``);
# real credentials are longer, and settings refuse shorter ones (MIN_SECRET_LENGTH).
MIN_SECRET_LENGTH = 8
_MIN_SECRET_LEN = MIN_SECRET_LENGTH

# Shapes only a credential has: safe to mask in any text, airbox's own messages too.
_SHAPES: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)(authorization:\s*bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(\"?access_token\"?\s*[:=]\s*\"?)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(AccountKey=)[^;\s\"]+"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
)
# ``password=…``, ``client_secret: …``: a credential in a tool's output, but in airbox's
# own messages the name of a field (``values.db.password: looks like a credential``).
# The name starts where a run of letters starts: from every position inside the run, a
# long one (a hostile 3 MB error title) made each search quadratic, and masking a run log
# line never ended.
_KEY_VALUE = re.compile(
    r"(?i)(\"?(?<![A-Za-z_])[A-Za-z_]*(?:secret|password|passwd|token|license_?key|licensekey|"
    r"connection_?string|connectionstring|private_?key|privatekey|access_?key_?id|"
    r"accesskeyid|credentials_?json|credentialsjson)\"?\s*[:=]\s*\"?)"
    r"(?!\*{8})[^\s\",}]{4,}"
)
_PATTERNS: tuple[re.Pattern[str], ...] = (*_SHAPES[:2], _KEY_VALUE, *_SHAPES[2:])

# The password alone of a URL's user info (https://user:password@host), for masking; the
# user may be empty (redis://:password@host).
_URL_PASSWORD_PART = re.compile(r"(://[^:/@\s]*:)[^@\s/]+(?=@)")

# Keys of YAML/JSON documents whose values are secret whatever they look like.
_SECRET_KEY = re.compile(
    r"(?i)(secret|password|passwd|passphrase|token|licensekey|license_key|connectionstring|"
    r"connection_string|privatekey|private_key|credential|accesskey|access_key|"
    r"api_?key|apikey|authorization|auth_?header|bearer|cookie|session_?key)"
)

# A URL carrying a password: ``scheme://user:password@host``.
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@")


class Redactor:
    """A thread-safe set of known secret values and the function that masks them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if not value or len(value) < _MIN_SECRET_LEN:
                    continue
                self._values.add(value)
                self._values.add(base64.b64encode(value.encode()).decode())
                # A multi-line secret (a service-account JSON) also leaks line by line.
                for line in value.splitlines():
                    line = line.strip()
                    if len(line) >= 12:
                        self._values.add(line)

    def reset(self) -> None:
        with self._lock:
            self._values.clear()

    def known(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._values)

    def __call__(self, text: str) -> str:
        return self.mask(text)

    def mask(self, text: str) -> str:
        if not text:
            return text
        # Longest first, so a value that contains another is masked whole.
        for value in sorted(self.known(), key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        return text

    def mask_all(self, text: str) -> str:
        """Known values and credential-shaped patterns: for text from elsewhere."""
        return self._mask_patterns(self.mask(text), (*_PATTERNS, _URL_PASSWORD_PART))

    def mask_shapes(self, text: str) -> str:
        """Known values and the shapes only a credential has (not ``key: value``): for
        airbox's own messages, which name secret fields and may quote other programs."""
        return self._mask_patterns(self.mask(text), (*_SHAPES, _URL_PASSWORD_PART))

    @staticmethod
    def _mask_patterns(text: str, patterns: Iterable[re.Pattern[str]]) -> str:
        for pattern in patterns:
            if pattern.groups:
                text = pattern.sub(lambda m: m.group(1) + MASK, text)
            else:
                text = pattern.sub(MASK, text)
        return text

    def mask_argv(self, argv: Iterable[str]) -> list[str]:
        return [self.mask(arg) for arg in argv]


# Keys that *name* a Secret or a key in it (``dataPlane.clientIdSecretKey``): not secret.
# The workload launcher's such settings end in _REF_NAME/_REF_KEY (VAULT_AUTH_TOKEN_REF_NAME).
_REFERENCE_KEY = re.compile(
    r"(?i)(secretkey|secretname|secret_name|secret_key|refname|refkey|ref_name|ref_key)$"
)


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (``clientSecret``, ``authToken``, ``apiKey`` …)."""
    if _REFERENCE_KEY.search(key):
        return False
    shouting = key.isupper()
    for match in _SECRET_KEY.finditer(key):
        # The word must end where the match does (``tokenizer`` names no token), allowing a
        # plural: the rest starts a new word (camelCase, ``_``, a digit) or ends the key.
        rest = key[match.end() :]
        if rest[:1].lower() == "s" and not (
            len(rest) > 1 and rest[1].isalpha() and (shouting or rest[1].islower())
        ):
            rest = rest[1:]
        if not rest or not rest[0].isalpha() or (rest[0].isupper() and not shouting):
            return True
    return False


def looks_like_credential(text: str) -> bool:
    """Whether ``text`` holds a secret by its content: a value airbox knows to be secret,
    a credential's shape (an AWS key id, ``password=…``, a bearer token, a private key)
    or a URL with a password — whatever the key it sits under is called."""
    if not text:
        return False
    return (REDACTOR.mask_all(text) != text) or bool(_URL_PASSWORD.search(text))


def scrub_mapping(data: object, *, under_secret: bool = False) -> object:
    """A copy of a YAML/JSON structure with the values of secret-named keys masked.

    Values, never structure: a secret-named key holding a mapping (``secretsManager``)
    keeps its keys and its plain values (type, region) so support can read which one is
    configured; only the scalars under a secret-named key are masked.
    """
    if isinstance(data, dict):
        return {
            key: (
                MASK
                if is_secret_key(str(key))
                and value not in (None, "")
                and not isinstance(value, (dict, list))
                else scrub_mapping(
                    value, under_secret=isinstance(value, list) and is_secret_key(str(key))
                )
            )
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [
            MASK
            if under_secret and not isinstance(item, (dict, list)) and item not in (None, "")
            else scrub_mapping(item)
            for item in data
        ]
    return data


# One registry per process: the settings loader, the API client and the token cache
# add to it; the runner, the log handler and the terminal read from it.
REDACTOR = Redactor()
