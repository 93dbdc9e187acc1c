"""The offline bundle's manifest: what the archive holds, each member with its SHA-256.

``manifest.json`` is the archive's first member. Its own integrity is in it: ``digest`` is
the SHA-256 of the rest of the manifest (compact JSON, keys sorted), and the member's bytes
must be exactly the manifest as airbox writes it (``render``), followed only by the
spaces that fill the room reserved for it. So a flipped byte in the manifest is found
even where the JSON stays valid (a size, a version, an image's name).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

FORMAT = 1
NAME = "manifest.json"
KINDS = ("node-image", "image", "connector", "chart", "binary")
IMAGE_KINDS = ("node-image", "image", "connector")
TOOLS = ("kind", "helm", "kubectl")

# An image reference as Docker parses one (distribution/reference's grammar, without
# IPv6 hosts): [host[:port]/]path[:tag][@sha256:hex].
_HOST_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REFERENCE = re.compile(
    rf"^(?P<name>(?:{_HOST}/)?{_PATH_PART}(?:/{_PATH_PART})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_MEMBER = re.compile(
    r"^(images/[A-Za-z0-9._-]+\.tar|charts/[A-Za-z0-9._-]+\.tgz|"
    r"bin/(kind|helm|kubectl))$"
)
# A tar header holds 100 characters of name: longer paths are shortened with a hash.
_MAX_MEMBER = 100


class ManifestError(ValueError):
    """The manifest is not one this airbox wrote (damaged, or not a manifest at all)."""


class NewerFormat(ManifestError):
    """The manifest is intact but of a format this airbox does not read."""


@dataclass(frozen=True)
class Item:
    kind: str  # "node-image" | "image" | "connector" | "chart" | "binary"
    name: str  # an image reference, "airbyte-data-plane", or kind/helm/kubectl
    path: str  # the member's path in the archive
    sha256: str  # hex SHA-256 of the member's bytes
    size: int  # the member's size in bytes
    # Images: the image's ID in the Docker Engine that saved it (``docker image inspect``'s
    # Id). A load gives the image the same ID, so "already in the daemon" is exact.
    image_id: str = ""

    @property
    def is_image(self) -> bool:
        return self.kind in IMAGE_KINDS


@dataclass(frozen=True)
class Manifest:
    format: int
    airbox: str
    created: str
    platform: str
    chart_name: str
    chart_version: str
    app_version: str
    kind_version: str
    node_image: str
    items: tuple[Item, ...]

    def images(self, *kinds: str) -> list[str]:
        """The references of the items of those kinds (default: every image kind)."""
        wanted = kinds or IMAGE_KINDS
        return [item.name for item in self.items if item.kind in wanted]

    def item(self, path: str) -> Item | None:
        return next((item for item in self.items if item.path == path), None)

    @property
    def total_size(self) -> int:
        return sum(item.size for item in self.items)


def local_name(ref: str) -> str:
    """The name an image has in a Docker Engine after ``docker load``: the reference
    without its digest (a digest survives no save and load; the tag does)."""
    return ref.split("@", 1)[0]


def reference_problem(ref: str) -> str | None:
    """Why ``ref`` cannot name an image in a bundle; None when it can."""
    match = REFERENCE.match(ref)
    if match is None or len(match.group("name")) > 255:
        return (
            "is not an image reference (expected [registry/]name:tag, e.g. "
            "airbyte/source-postgres:3.6.28)"
        )
    if not match.group("tag"):
        # A load gives the image the tags it was saved with, and a digest alone is none:
        # the image would arrive nameless.
        return (
            f"has no tag: name the version the data plane runs (e.g. {match.group('name')}:1.2.3)"
        )
    return None


def member_path(kind: str, name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """The archive member for an item: ``images/<sanitised ref>.tar``, ``bin/<tool>``,
    ``charts/<name>-<version>.tgz`` (``name`` is then the file name)."""
    if kind == "binary":
        return f"bin/{name}"
    if kind == "chart":
        base = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        return f"charts/{base}"
    base = re.sub(r"[^A-Za-z0-9._-]", "_", local_name(name)).strip("._-") or "image"
    path = f"images/{base}.tar"
    if len(path) > _MAX_MEMBER or path in taken:
        # Too long for a tar header, or two references that read the same once sanitised.
        short = hashlib.sha256(name.encode()).hexdigest()[:12]
        path = f"images/{base[: _MAX_MEMBER - 25]}-{short}.tar"
    return path


# ------------------------------------------------------------------------ serialisation


def _body(manifest: Manifest) -> dict[str, Any]:
    items = []
    for item in manifest.items:
        entry: dict[str, Any] = {
            "kind": item.kind,
            "name": item.name,
            "path": item.path,
            "sha256": item.sha256,
            "size": item.size,
        }
        if item.is_image:
            entry["imageId"] = item.image_id
        items.append(entry)
    return {
        "format": manifest.format,
        "airbox": manifest.airbox,
        "created": manifest.created,
        "platform": manifest.platform,
        "chart": {
            "name": manifest.chart_name,
            "version": manifest.chart_version,
            "appVersion": manifest.app_version,
        },
        "kind": manifest.kind_version,
        "nodeImage": manifest.node_image,
        "items": items,
    }


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _pretty(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=2, ensure_ascii=True) + "\n"


def render(manifest: Manifest) -> bytes:
    """The manifest's bytes as airbox writes them."""
    body = _body(manifest)
    body["digest"] = _digest(body)
    return _pretty(body).encode("ascii")


def reserve(manifest: Manifest) -> int:
    """Room for the manifest once every item's digest and size are known: its length with
    the longest values those can take (the archive's first member is written first, with
    this size, and filled in last)."""
    widest = replace(
        manifest,
        items=tuple(
            replace(
                item,
                sha256="0" * 64,
                size=10**19,
                image_id=("sha256:" + "0" * 64) if item.is_image else "",
            )
            for item in manifest.items
        ),
    )
    return len(render(widest))


def to_dict(manifest: Manifest) -> dict[str, Any]:
    """The manifest as JSON data (``bundle inspect --json``)."""
    body = _body(manifest)
    body["digest"] = _digest(body)
    return body


def parse(raw: bytes) -> Manifest:
    """The manifest in ``raw`` (the archive's first member); ManifestError if it is not
    exactly what airbox writes."""
    try:
        text = raw.decode("ascii")
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise ManifestError("it is not valid JSON") from None
    if not isinstance(data, dict):
        raise ManifestError("it is not a JSON object")
    digest = data.pop("digest", None)
    fmt = data.get("format")
    if digest != _digest(data):
        if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT:
            raise NewerFormat(
                f"its format is {fmt} (this airbox reads format {FORMAT}), or it is damaged"
            )
        raise ManifestError("its digest does not match its content")
    if fmt != FORMAT:
        raise NewerFormat(f"its format is {fmt!r}; this airbox reads format {FORMAT}")
    manifest = _from_body(data)
    # Only the filling spaces may follow what airbox writes: any other change to the
    # bytes, even one JSON ignores, is damage.
    if text.rstrip(" ") != _pretty({**_body(manifest), "digest": digest}):
        raise ManifestError("its bytes are not the ones airbox wrote")
    return manifest


def _from_body(data: dict[str, Any]) -> Manifest:
    expected = {"format", "airbox", "created", "platform", "chart", "kind", "nodeImage", "items"}
    if set(data) != expected:
        raise ManifestError(f"its fields are {sorted(data)}, expected {sorted(expected)}")
    chart = data["chart"]
    if not isinstance(chart, dict) or set(chart) != {"name", "version", "appVersion"}:
        raise ManifestError("its chart field is malformed")
    strings = [
        data["airbox"],
        data["created"],
        data["platform"],
        data["kind"],
        data["nodeImage"],
        *chart.values(),
    ]
    if not all(isinstance(value, str) for value in strings):
        raise ManifestError("a field that must be text is not")
    if not isinstance(data["items"], list):
        raise ManifestError("its items are not a list")
    items = tuple(_item(entry, n) for n, entry in enumerate(data["items"]))
    paths = [item.path for item in items]
    if len(set(paths)) != len(paths):
        raise ManifestError("two items have the same path")
    if sum(item.kind == "chart" for item in items) > 1:
        raise ManifestError("it lists more than one chart")
    return Manifest(
        format=FORMAT,
        airbox=data["airbox"],
        created=data["created"],
        platform=data["platform"],
        chart_name=chart["name"],
        chart_version=chart["version"],
        app_version=chart["appVersion"],
        kind_version=data["kind"],
        node_image=data["nodeImage"],
        items=items,
    )


def _item(entry: Any, n: int) -> Item:
    where = f"item {n + 1}"
    if not isinstance(entry, dict):
        raise ManifestError(f"{where} is not an object")
    keys = {"kind", "name", "path", "sha256", "size"}
    kind = entry.get("kind")
    if kind in IMAGE_KINDS:
        keys.add("imageId")
    if set(entry) != keys or kind not in KINDS:
        raise ManifestError(f"{where} is malformed")
    name, path, sha, size = entry["name"], entry["path"], entry["sha256"], entry["size"]
    if not (isinstance(name, str) and isinstance(path, str) and isinstance(sha, str)):
        raise ManifestError(f"{where} is malformed")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{where}: its size is not a byte count")
    if not _SHA256.match(sha):
        raise ManifestError(f"{where}: its sha256 is not a SHA-256")
    # The path decides where unpack writes: only the shapes airbox makes are accepted.
    if (
        not _MEMBER.match(path)
        or path.startswith("bin/") != (kind == "binary")
        or path.startswith("charts/") != (kind == "chart")
    ):
        raise ManifestError(f"{where}: its path {path!r} is not one airbox writes")
    if kind == "binary" and path != f"bin/{name}":
        raise ManifestError(f"{where}: binary {name!r} is not at bin/{name}")
    image_id = entry.get("imageId", "")
    if kind in IMAGE_KINDS and (
        reference_problem(name) is not None
        or not isinstance(image_id, str)
        or not _IMAGE_ID.match(image_id)
    ):
        raise ManifestError(f"{where}: {name!r} is not a tagged image with its ID")
    return Item(kind, name, path, sha, size, image_id)
