"""What the airbyte-data-plane chart makes of a release name and values.

airbox addresses objects the chart names (the launcher's Deployment) and preloads
images the chart picks; both follow the chart's templates, written down once here and
checked against the real chart archives in tests/test_chart_contract.py:

- ``fullname``: the chart's ``airbyte-data-plane.fullname`` — the release name alone
  when it already contains the chart's name, ``<release>-airbyte-data-plane`` otherwise
  (``fullnameOverride``/``nameOverride`` win), cut to 63 characters.
- ``images``: the launcher's ``image.repository:image.tag`` (the chart ignores
  ``image.registry`` there) and the job pods' images, the
  ``workloadLauncher.<job>.image`` templates with ``image.registry`` in front; every tag
  defaults to the chart's ``appVersion``.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from airbox import versions

CHART_NAME = versions.CHART_NAME
LAUNCHER_REPOSITORY = "airbyte/workload-launcher"
# values key under workloadLauncher -> default repository, for the job pods of a sync.
JOB_IMAGES = {
    "workloadInit": "airbyte/workload-init-container",
    "connectorSidecar": "airbyte/connector-sidecar",
    "containerOrchestrator": "airbyte/container-orchestrator",
}
# The chart's own default for those values: a template defaulting the tag.
_DEFAULT_TAG_TEMPLATE = re.compile(
    r"\{\{-?\s*default\s+\.Chart\.AppVersion\s+"
    r"\.Values\.image\.tag\s*-?\}\}"
)


def _dig(values: Mapping[str, Any], *path: str) -> Any:
    node: Any = values
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _trunc(name: str) -> str:
    return name[:63].rstrip("-")


def name(values: Mapping[str, Any]) -> str:
    """The chart's name label (``app.kubernetes.io/name``)."""
    return _trunc(str(_dig(values, "nameOverride") or CHART_NAME))


def fullname(release: str, values: Mapping[str, Any]) -> str:
    """The launcher Deployment's name for ``release`` rendered with ``values``."""
    override = _dig(values, "fullnameOverride")
    if override:
        return _trunc(str(override))
    chart = str(_dig(values, "nameOverride") or CHART_NAME)
    if chart in release:
        return _trunc(release)
    return _trunc(f"{release}-{chart}")


def app_version(version: str, source: str | None) -> str:
    """The chart's ``appVersion``: from the chart itself when it is a local archive or
    directory, else the pinned chart's; any other version is taken as its own
    ``appVersion`` (every published airbyte-data-plane chart has had the two equal)."""
    if source and "://" not in source:
        found = read_app_version(Path(source).expanduser())
        if found:
            return found
    return versions.CHART_APP_VERSIONS.get(version, version)


def read_app_version(path: Path) -> str | None:
    """``appVersion`` of a chart directory or ``.tgz`` archive; None if unreadable."""
    meta = read_meta(path)
    if meta is None:
        return None
    found = meta.get("appVersion") or meta.get("version")
    return str(found) if found else None


def read_meta(path: Path) -> dict[str, Any] | None:
    """``Chart.yaml`` of a chart directory or ``.tgz`` archive; None if unreadable."""
    try:
        if path.is_dir():
            text = (path / "Chart.yaml").read_text(encoding="utf-8")
        else:
            with tarfile.open(path, "r:*") as archive:
                member = next(
                    (
                        m
                        for m in archive.getmembers()
                        if m.isfile() and m.name.count("/") == 1 and m.name.endswith("/Chart.yaml")
                    ),
                    None,
                )
                handle = archive.extractfile(member) if member is not None else None
                if handle is None:
                    return None
                text = handle.read().decode("utf-8")
        meta = yaml.safe_load(text)
    except (OSError, tarfile.TarError, UnicodeDecodeError, yaml.YAMLError, EOFError):
        return None
    return meta if isinstance(meta, dict) else None


def images(values: Mapping[str, Any], app_version: str) -> list[str]:
    """The launcher's image and its sync job pods' images (connectors aside)."""
    tag = str(_dig(values, "image", "tag") or app_version)
    repository = str(_dig(values, "image", "repository") or LAUNCHER_REPOSITORY)
    registry = str(_dig(values, "image", "registry") or "")
    prefix = registry.rstrip("/") + "/" if registry else ""
    found = [f"{repository}:{tag}"]
    for key, default_repository in JOB_IMAGES.items():
        image = _dig(values, "workloadLauncher", key, "image")
        if isinstance(image, Mapping):
            repo = str(image.get("repository") or default_repository)
            found.append(f"{prefix}{repo}:{image.get('tag') or tag}")
        elif isinstance(image, str) and image:
            found.append(prefix + _DEFAULT_TAG_TEMPLATE.sub(tag, image))
        else:
            found.append(f"{prefix}{default_repository}:{tag}")
    return found
