"""What ``airbox status`` concludes: a table of checks, each a function of the facts.

The verdict comes from the first failing check in the order of ``CHECKS`` (the one
closest to the root cause: Docker before the cluster, the cluster before the release,
...), else the first warning, else healthy. A check that finds a root cause says so
(``Check.blocks``); the runner then skips the checks that need what it found missing.

Check ids: ``docker``, ``node-container``, ``kubernetes``, ``release``, ``pods``,
``storage`` (the MinIO airbox runs when no storage is configured: ready, bucket made,
its host data directory there; ``skip`` for a store you configured), ``events``,
``credentials``, ``job-credentials`` (the launcher's settings hand every credential the
secrets manager needs to its job pods, each from a key of airbox's Secret; ``fail``
otherwise: syncs with secrets could not read them), ``job-proxy`` (with a proxy: the
MutatingAdmissionPolicy that gives it to job pods is served, there and as airbox renders
it; ``skip`` without a proxy), ``registration``, ``heartbeat``,
then the ones that look ahead (``ahead.py``): ``restart-policy`` (the node comes back
after a reboot), ``certificates`` (kubeadm's, read in the node: warn under 30 days, fail
once expired; warn while a renewal ``airbox repair`` started is unfinished), ``disk``
(the node's image store and the host's Docker data root: warn above 80%, fail from 95%),
``images`` (how many the node holds; connector images no pod uses, for ``airbox prune``)
and ``versions`` (the chart and Kubernetes against the ones airbox pins; an available
upgrade is noted, not a warning); last ``routing``: ``ok`` when a workspace uses the
data plane's region, ``warn`` when none does (it gets no work), ``skip`` without the
application's credentials.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Literal

from airbox.ops.status import ahead, now, remote
from airbox.ops.status.probes import Facts
from airbox.ops.status.report import Check

# What a check needs before it can look: "cluster" (skipped, saying why, once an earlier
# check found the cluster unusable), "node" (kind only, and skipped once the node's
# insides cannot be read), or None (it decides for itself).
Needs = Literal["cluster", "node"] | None

CHECKS: tuple[tuple[str, Callable[[Facts], Check], Needs], ...] = (
    ("docker", now.docker, None),
    ("node-container", now.node_container, None),
    ("kubernetes", now.kubernetes, "cluster"),
    ("release", now.release, "cluster"),
    ("pods", now.pods, "cluster"),
    ("storage", now.storage, None),
    ("events", now.events, "cluster"),
    ("credentials", now.credentials, "cluster"),
    ("job-credentials", now.job_credentials, "cluster"),
    ("job-proxy", now.job_proxy, "cluster"),
    ("registration", remote.registration, None),
    ("heartbeat", remote.heartbeat, None),
    # Looking ahead: what will break in the coming weeks, not what is broken now.
    ("restart-policy", ahead.restart_policy, "node"),
    ("certificates", ahead.certificates, "node"),
    ("disk", ahead.disk, "node"),
    ("images", ahead.images, "node"),
    ("versions", ahead.versions, "cluster"),
    # Last: does any workspace send its syncs here?
    ("routing", remote.routing, None),
)
CHECK_IDS = tuple(check_id for check_id, _, _ in CHECKS)


def _not_ready(facts: Facts, needs: Needs) -> str | None:
    """Why a check that needs ``needs`` cannot look (its skip summary); None: it can."""
    if needs == "cluster" and facts.blocked:
        return f"not checked: {facts.blocked}"
    if needs == "node":
        if not facts.inst.settings.target.is_kind:
            return "not checked: the data plane runs in an existing cluster airbox does not manage"
        if facts.node_blocked:
            return f"not checked: {facts.node_blocked}"
    return None


def run_checks(facts: Facts) -> tuple[list[Check], Facts]:
    """Every check, in order, each seeing what blocked the ones before it; and the facts
    with what blocked them (the report's sections show only what the checks could see)."""
    found: list[Check] = []
    for check_id, run, needs in CHECKS:
        reason = _not_ready(facts, needs)
        check = Check(check_id, "skip", reason) if reason is not None else run(facts)
        assert check.id == check_id, (check.id, check_id)
        found.append(check)
        if check.blocks:
            facts = dataclasses.replace(
                facts,
                blocked=check.blocks,
                node_blocked=check.blocks if check.blocks_node else facts.node_blocked,
            )
    return found, facts
