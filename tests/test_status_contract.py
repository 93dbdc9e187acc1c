"""The ``airbox status --json`` contract: every key and the type of every value, pinned.

Scripts read this document (``version`` 1 promises it stays backward compatible), so a
key that disappears, is renamed or changes type breaks them. The shapes below were
taken from the report before ``ops/status`` was split into probes, checks, report and
rendering; the split had to keep them exactly. A key added on purpose goes here too.

``shape()`` turns a document into its skeleton: a dict keeps its keys, a list merges its
items into one, a scalar becomes its JSON type (``"str|null"`` where items differ).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

from airbox.cluster.node import Certificate, DiskUse, ImageStore, NodeImage
from airbox.installed import Installed
from airbox.ops import status
from airbox.ops.status import CHECK_IDS, Outcome, Probes, not_installed_report, status_report
from tests.test_status_checks import NOW, _event, _inst, _pod, _probes, _registration

_JSON = {str: "str", int: "int", float: "float", bool: "bool", type(None): "null"}


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), (sorted(a), sorted(b))
        return {k: _merge(a[k], b[k]) for k in a}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0], b[0])] if a and b else a or b
    assert isinstance(a, str) and isinstance(b, str), (a, b)
    return "|".join(sorted(set(a.split("|")) | set(b.split("|"))))


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = shape(item) if merged is None else _merge(merged, shape(item))
        return [] if merged is None else [merged]
    return _JSON[type(value)]


def _document(inst: Installed, probes: Probes) -> dict[str, Any]:
    # Through JSON, as a script reads it.
    document: dict[str, Any] = json.loads(
        json.dumps(
            status_report(
                inst,
                None,  # type: ignore[arg-type]
                probes=probes,
            )
        )
    )
    return document


CHECK = {
    "id": "str",
    "state": "str",
    "ok": "bool|null",
    "summary": "str",
    "details": ["str"],
    "next": "null|str",
}
# No check found anything to detail.
CHECK_BARE = {**CHECK, "details": []}
TARGET_KIND = {"type": "str", "cluster": "str", "nodeContainer": "str"}
RELEASE = {
    "name": "str",
    "namespace": "str",
    "status": "str",
    "revision": "int",
    "chart": "str",
    "chartVersion": "str",
    "appVersion": "str",
    "lastDeployed": "str",
    "description": "str",
}
POD = {
    "name": "str",
    "phase": "str",
    "ready": "bool",
    "restarts": "int",
    "problem": "null",
    "lastTermination": "null",
    "imagePullProblem": "bool",
}
REGISTRATION = {
    "dataplaneId": "str",
    "name": "str",
    "organizationId": "str",
    "regionId": "str",
    "region": "str",
    "checked": "bool",
    "enabled": "bool",
    "deleted": "bool",
    "health": "str",
    "lastHeartbeat": "str",
    "error": "null",
}
NODE = {
    "restartPolicy": "str",
    "certificates": [{"name": "str", "expires": "str", "daysLeft": "int", "authority": "bool"}],
    "disk": [{"path": "str", "totalBytes": "int", "usedBytes": "int", "percent": "float"}],
    "images": {
        "count": "int",
        "bytes": "int",
        "unusedConnectors": ["str"],
        "unusedConnectorBytes": "int",
        "connectors": ["str"],
        "offline": "bool",
    },
}
VERSIONS = {
    "chart": {"running": "str", "pinned": "str"},
    "kubernetes": {"running": "str", "pinned": "str"},
}
ROUTING = {"region": {"regionId": "str", "name": "str"}, "workspaces": ["str"]}


def _node_probes() -> dict[str, Outcome]:
    expires = dt.datetime.fromtimestamp(NOW, dt.timezone.utc) + dt.timedelta(days=300)
    store = ImageStore([NodeImage("sha256:" + "a" * 64, ["docker.io/airbyte/source-x:1.0"], 2048)])
    return {
        "certificates": Outcome(
            [Certificate("apiserver", expires, False), Certificate("ca", expires, True)]
        ),
        "disk": Outcome(
            [DiskUse("/var/lib/containerd", 1000, 100), DiskUse("/var/lib/docker", 1000, 200)]
        ),
        "images": Outcome(store),
        "routing": Outcome({"region": {"regionId": "r1", "name": "us"}, "workspaces": ["ws1"]}),
        "registration": Outcome(_registration()),
    }


def test_a_healthy_data_plane_has_every_section(tmp_path: Path) -> None:
    document = _document(_inst(tmp_path), _probes(**_node_probes()))
    assert document["verdict"] == "healthy"
    assert [c["id"] for c in document["checks"]] == list(CHECK_IDS)
    assert shape(document) == {
        "version": "int",
        "name": "str",
        "verdict": "str",
        "reason": "str",
        "next": "null",
        "checkedAt": "str",
        "seconds": "float",
        "target": TARGET_KIND,
        "namespace": "str",
        "checks": [CHECK_BARE],
        "release": RELEASE,
        "pods": [POD],
        "events": [],
        "registration": REGISTRATION,
        "node": NODE,
        "versions": VERSIONS,
        "routing": ROUTING,
        "unfinishedRepair": "null",
    }


def test_an_unhealthy_data_plane_keeps_the_shape(tmp_path: Path) -> None:
    crashing = _pod(ready=False, waiting="CrashLoopBackOff", restarts=5, finished_ago=30)
    document = _document(
        _inst(tmp_path),
        _probes(
            pods=Outcome([crashing]),
            events=Outcome([_event("BackOff", 60)]),
            registration=Outcome(
                _registration(
                    checked=False, enabled=None, health=None, lastHeartbeat=None, error="refused"
                )
            ),
        ),
    )
    assert document["verdict"] == "unhealthy"
    assert shape(document) == {
        "version": "int",
        "name": "str",
        "verdict": "str",
        "reason": "str",
        "next": "str",
        "checkedAt": "str",
        "seconds": "float",
        "target": TARGET_KIND,
        "namespace": "str",
        "checks": [CHECK],
        "release": RELEASE,
        "pods": [{**POD, "problem": "str", "lastTermination": "str"}],
        "events": [
            {
                "time": "str",
                "type": "str",
                "reason": "str",
                "object": "str",
                "message": "str",
                "count": "int",
            }
        ],
        "registration": {
            **REGISTRATION,
            "checked": "bool",
            "enabled": "null",
            "health": "null",
            "lastHeartbeat": "null",
            "error": "str",
        },
        # Nothing read in the node (the probes failed); routing not checked.
        "node": {"restartPolicy": "str"},
        "versions": VERSIONS,
        "routing": "null",
        "unfinishedRepair": "null",
    }


def test_a_repair_stopped_half_way_is_reported_with_the_command_that_finishes_it(
    tmp_path: Path,
) -> None:
    """F1: a repair stopped after renewing the certificates leaves them valid on disk while
    the control plane and the kubeconfig may hold the old ones; status says so, from the
    record the repair wrote, and names `airbox repair`."""
    from airbox.ops.repair import Repair
    from airbox.ui import Terminal
    from tests.recording_runner import RecordingRunner

    inst = _inst(tmp_path)
    term = Terminal(out=io.StringIO(), err=io.StringIO(), interactive=False)
    Repair(inst, RecordingRunner(), term).record_renewal(
        {"at": "2026-12-05T14:41:15Z", "first": "2026-12-15 10:00 UTC", "nodeStartedAt": "x"}
    )
    document = _document(inst, _probes(**_node_probes()))
    assert document["unfinishedRepair"] == {
        "what": "certificate renewal",
        "startedAt": "2026-12-05T14:41:15Z",
        "next": "airbox repair --name dp1",
    }
    [check] = [c for c in document["checks"] if c["id"] == "certificates"]
    assert check == {
        "id": "certificates",
        "state": "warn",
        "ok": False,
        "summary": "a repair renewed the cluster's certificates at 2026-12-05T14:41:15Z but "
        "did not finish: the control plane and the kubeconfig may still use the old ones",
        "details": ["the old ones expire from 2026-12-15 10:00 UTC"],
        "next": "airbox repair --name dp1  (finishes it: restarts the node, exports the "
        "kubeconfig)",
    }
    # The only finding: it makes the verdict, in the JSON and on a terminal.
    assert (document["verdict"], document["reason"], document["next"]) == (
        "degraded",
        check["summary"],
        check["next"],
    )
    lines = status.render(document)
    assert lines[0] == f"! degraded: {check['summary']}"
    assert lines[1] == f"  next: {check['next']}"
    assert "    the old ones expire from 2026-12-15 10:00 UTC" in lines


def test_with_docker_down_the_sections_are_empty_or_null(tmp_path: Path) -> None:
    document = _document(
        _inst(tmp_path),
        _probes(
            docker=Outcome(error=RuntimeError("connection refused")),
            nodes=Outcome(error=RuntimeError("refused")),
        ),
    )
    assert document["verdict"] == "unhealthy"
    assert shape(document) == {
        "version": "int",
        "name": "str",
        "verdict": "str",
        "reason": "str",
        "next": "str",
        "checkedAt": "str",
        "seconds": "float",
        "target": TARGET_KIND,
        "namespace": "str",
        "checks": [CHECK_BARE],
        "release": "null",
        "pods": [],
        "events": [],
        "registration": "null",
        "node": "null",
        "versions": "null",
        "routing": "null",
        "unfinishedRepair": "null",
    }


def test_an_existing_cluster_target(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("")
    inst = _inst(tmp_path, kubeContext="prod", kubeconfig=str(kubeconfig))
    document = _document(inst, _probes(docker=Outcome()))
    assert shape(document["target"]) == {"type": "str", "context": "str", "kubeconfig": "str"}
    assert (document["node"], shape(document["versions"])) == (
        None,
        {"chart": {"running": "str", "pinned": "str"}},
    )


def test_nothing_installed() -> None:
    document = json.loads(json.dumps(not_installed_report("nosuchdp")))
    assert shape(document) == {
        "version": "int",
        "name": "str",
        "verdict": "str",
        "reason": "str",
        "next": "str",
        "checkedAt": "str",
        "seconds": "float",
        "target": "null",
        "namespace": "null",
        "checks": [],
        "release": "null",
        "pods": [],
        "events": [],
        "registration": "null",
        "node": "null",
        "versions": "null",
        "routing": "null",
        "unfinishedRepair": "null",
    }
    assert document["verdict"] == "not installed"


# ------------------------------------------------------------- the shape, described


def _keys(cls: Any) -> set[str]:
    """Every JSON key of the report part ``cls`` and of the parts inside it."""
    import typing

    from airbox.ops.status import report

    if cls is report.Check:
        return set(report.CHECK_KEYS)
    found: set[str] = set()
    hints = typing.get_type_hints(cls)
    for name in cls._fields:
        found.add(report.json_key(name))
        stack = [hints[name]]
        while stack:
            hint = stack.pop()
            stack.extend(typing.get_args(hint))
            if hint is report.Check or (
                isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields")
            ):
                found |= _keys(hint)
    return found


# A quoted word is a key unless it follows ": " (then it is an example value).
_KEY = re.compile(r'(?<!: )"([A-Za-z]+)"')


def _readme_status_section() -> str:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start = text.index("**status** probes")
    return text[start : text.index("**logs**", start)]


def test_the_documented_shape_is_the_dataclasses() -> None:
    from airbox.ops.status import checks, report

    keys = _keys(report.Report)
    doc = report.__doc__ or ""
    schema = doc[doc.index("::") : doc.index("``state`` is")]
    assert set(_KEY.findall(schema)) == keys
    readme = _readme_status_section()
    assert set(_KEY.findall(readme)) == keys
    for check_id in CHECK_IDS:
        assert f"``{check_id}``" in (checks.__doc__ or ""), check_id
        assert f"`{check_id}`" in readme, check_id
