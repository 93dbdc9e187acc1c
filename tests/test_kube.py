"""What airbox says about pods: the words a user reads while Helm waits and in status."""

from __future__ import annotations

from typing import Any

import pytest

from airbox.cluster import kube


def pod(
    phase: str = "Running",
    *,
    waiting: dict[str, str] | None = None,
    ready: bool = True,
    restarts: int = 0,
    last: dict[str, Any] | None = None,
    conditions: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    if phase != "Pending" or waiting:
        state = {"waiting": waiting} if waiting else {"running": {}}
        status["containerStatuses"] = [
            {
                "name": "airbyte-data-plane",
                "ready": ready and not waiting,
                "restartCount": restarts,
                "state": state,
                "lastState": {"terminated": last} if last else {},
            }
        ]
    return {"metadata": {"name": "dp-airbyte-data-plane-abc"}, "status": status}


@pytest.mark.parametrize(
    ("manifest", "problem", "image"),
    [
        (pod(), None, False),
        (
            pod(
                waiting={
                    "reason": "ImagePullBackOff",
                    "message": 'Back-off pulling image "airbyte/workload-launcher:1.8.1"',
                }
            ),
            "airbyte-data-plane: ImagePullBackOff — Back-off pulling image "
            '"airbyte/workload-launcher:1.8.1"',
            True,
        ),
        (
            pod(
                waiting={"reason": "CrashLoopBackOff", "message": "back-off 5m0s"},
                restarts=6,
                last={"reason": "Error", "exitCode": 1},
            ),
            "airbyte-data-plane: CrashLoopBackOff — back-off 5m0s; last exit: Error (exit code 1)",
            False,
        ),
        (
            pod(
                waiting={
                    "reason": "CreateContainerConfigError",
                    "message": "couldn't find key X in Secret airbyte/airbyte-config-secrets",
                }
            ),
            "airbyte-data-plane: CreateContainerConfigError — couldn't find key X in Secret "
            "airbyte/airbyte-config-secrets",
            False,
        ),
        (
            pod(
                "Pending",
                conditions=[
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/1 nodes are available: 1 Insufficient memory.",
                    }
                ],
            ),
            "not scheduled: 0/1 nodes are available: 1 Insufficient memory.",
            False,
        ),
        (pod(ready=False), "running but not ready yet", False),
    ],
)
def test_pod_health_in_a_users_words(
    manifest: dict[str, Any], problem: str | None, image: bool
) -> None:
    health = kube.pod_health(manifest)
    assert health.problem == problem
    assert health.ready is (problem is None)
    assert health.image_problem is image


def test_activity_prefers_a_pod_problem_then_recent_events() -> None:
    pulling = {
        "reason": "Pulling",
        "involvedObject": {"name": "dp-abc"},
        "message": 'Pulling image "airbyte/workload-launcher:1.8.1"',
    }
    assert kube.activity([pod(ready=False)], [pulling]) == (
        'dp-abc: Pulling Pulling image "airbyte/workload-launcher:1.8.1"'
    )
    crashing = pod(
        waiting={"reason": "CrashLoopBackOff"}, last={"reason": "OOMKilled", "exitCode": 137}
    )
    assert kube.activity([crashing], [pulling]).startswith(
        "dp-airbyte-data-plane-abc: airbyte-data-plane: CrashLoopBackOff"
    )
    assert kube.activity([pod()], []) == "1/1 data plane pods ready"
    assert kube.activity([], []) == "waiting for pods"


def named(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return {**manifest, "metadata": {"name": name}}


IMAGE = pod(waiting={"reason": "ErrImagePull", "message": "rpc error: not found"})
CRASHING = pod(waiting={"reason": "CrashLoopBackOff"}, restarts=4, last={"exitCode": 1})
NO_KEY = pod(waiting={"reason": "CreateContainerConfigError", "message": "couldn't find key X"})
UNSCHEDULED = pod(
    "Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
)
STARTING = pod(ready=False)


@pytest.mark.parametrize(
    ("manifest", "trouble"),
    [
        (pod(), None),
        (IMAGE, "image"),
        (pod(waiting={"reason": "InvalidImageName"}), "image"),
        (CRASHING, "crash-loop"),
        (NO_KEY, "config"),
        (UNSCHEDULED, "other"),
        (pod("Failed"), "other"),
        (pod(waiting={"reason": "RunContainerError"}), "other"),
        (pod("Pending"), "starting"),
        (STARTING, "starting"),
        # Still being created: not a problem yet.
        (pod(waiting={"reason": "ContainerCreating"}, ready=False), "starting"),
    ],
)
def test_why_a_pod_is_not_ready_is_classified_once(
    manifest: dict[str, Any], trouble: str | None
) -> None:
    assert kube.pod_health(manifest).trouble == trouble


@pytest.mark.parametrize(
    ("pods", "worst"),
    [
        ([pod(), pod()], None),
        # Nothing runs without its image, whichever pod comes first.
        ([named(CRASHING, "a"), named(IMAGE, "b")], "b"),
        ([named(NO_KEY, "a"), named(CRASHING, "b")], "b"),
        # A pod still starting explains least: time may fix it.
        ([named(STARTING, "a"), named(NO_KEY, "b")], "b"),
        ([named(STARTING, "a"), named(UNSCHEDULED, "b")], "b"),
        # Of the same kind, the first.
        ([named(CRASHING, "a"), named(CRASHING, "b")], "a"),
    ],
)
def test_the_worst_pod_is_the_one_closest_to_the_root_cause(
    pods: list[dict[str, Any]], worst: str | None
) -> None:
    found = kube.worst(kube.pod_health(p) for p in pods)
    assert (found.name if found else None) == worst
