"""Can a job pod read connector secrets? Its init container's credentials, checked.

A job pod's init container hydrates the connector's secrets from the secrets manager
with the credentials in its environment; the launcher hands each one over as a
``secretKeyRef`` built from two of its settings (airbox/render/secretrefs.py has the
table). ``verify`` checks the init containers of the job pods it sees; ``status`` checks
the launcher's settings, statically. Both prove the credentials *arrive*, from a key
that exists in airbox's Secret — not that the secrets manager accepts them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airbox.errors import AirboxError, ToolError
from airbox.render.manifests import SECRET_NAME
from airbox.render.secretrefs import CredentialRef, needed

if TYPE_CHECKING:
    from airbox.cluster.commands import Kube
    from airbox.cluster.runner import Runner
    from airbox.config.settings import Section

# The init container's name (the launcher's InitContainerFactory).
INIT_CONTAINER = "init"


def read_secret_keys(runner: Runner, kube: Kube, namespace: str) -> set[str] | None:
    """The keys of airbox's Secret in the cluster (empty when it is gone); None when it
    could not be read. Only the key names are kept."""
    from airbox.cluster import kube as kubectl
    from airbox.installed import not_found

    try:
        secret = kubectl.get_json(
            runner, kube, "--namespace", namespace, "get", "secret", SECRET_NAME, timeout=15
        )
    except ToolError as exc:
        return set() if not_found(exc) else None
    except (AirboxError, ValueError):
        return None
    return {str(k) for field in ("data", "stringData") for k in (secret.get(field) or {})}


def _what(ref: CredentialRef) -> str:
    return f"{ref.variable} ({ref.manager_label})"


def _ref_problem(ref: CredentialRef, secret: str, key: str, keys: set[str] | None) -> str | None:
    if secret != SECRET_NAME:
        return f"{_what(ref)} is read from Secret {secret!r}, not airbox's {SECRET_NAME!r}"
    if keys is not None and key not in keys:
        return f"{_what(ref)} is read from key {key!r}, which Secret {SECRET_NAME} lacks"
    return None


def init_container(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = pod.get("spec") or {}
    found: list[Mapping[str, Any]] = list(spec.get("initContainers") or [])
    return next((c for c in found if c.get("name") == INIT_CONTAINER), found[0] if found else None)


def pod_problems(section: Section, pod: Mapping[str, Any], keys: set[str] | None) -> list[str]:
    """What keeps this job pod's init container from the secrets manager's credentials:
    each one it needs must arrive as a ``secretKeyRef`` to a key of airbox's Secret.
    ``keys``: that Secret's keys (None: not known, only the references are checked)."""
    refs = needed(section)
    if not refs:
        return []
    name = str((pod.get("metadata") or {}).get("name"))
    container = init_container(pod)
    env = {str(e.get("name")): e for e in (container or {}).get("env") or []}
    problems = []
    for ref in refs:
        entry = env.get(ref.variable)
        source = ((entry or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
        problem: str | None
        if entry is None:
            problem = (
                f"its init container gets no {_what(ref)}, so connector secrets "
                f"cannot be read (the launcher's {ref.ref_name} and {ref.ref_key} "
                "hand it over)"
            )
        elif not source:
            problem = f"its init container's {_what(ref)} is not read from a Secret"
        else:
            problem = _ref_problem(ref, str(source.get("name")), str(source.get("key")), keys)
        if problem:
            problems.append(f"job pod {name}: {problem}")
    return problems


def launcher_problems(section: Section, env: Mapping[str, str], keys: set[str] | None) -> list[str]:
    """The same, one step earlier: the launcher's settings (its plain env) from which it
    builds those references; a pair with a blank half gives the job pods nothing."""
    problems = []
    for ref in needed(section):
        secret, key = env.get(ref.ref_name, "").strip(), env.get(ref.ref_key, "").strip()
        blank = [
            setting for setting, value in ((ref.ref_name, secret), (ref.ref_key, key)) if not value
        ]
        if blank:
            problems.append(
                f"the launcher has no {' or '.join(blank)}: job pods would get no {_what(ref)}"
            )
            continue
        problem = _ref_problem(ref, secret, key, keys)
        if problem:
            problems.append(f"in the job pods, {problem}")
    return problems


def arrives(section: Section) -> str:
    """What the job pods get, in words (for an ``ok``)."""
    refs = needed(section)
    if not refs:
        return (
            f"{section.spec.label} without keys: job pods use the default credentials "
            "chain (nothing to hand over)"
        )
    return (
        ", ".join(r.variable for r in refs) + f" from Secret {SECRET_NAME} "
        "(keys " + ", ".join(r.secret_key for r in refs) + ")"
    )


class PodCheck:
    """Checks each job pod once; reads the Secret's keys at the first pod that needs them."""

    def __init__(self, section: Section, read_keys: Callable[[], set[str] | None]) -> None:
        self.section = section
        self.read_keys = read_keys
        self.keys: set[str] | None = None
        self.read = False
        self.problems: list[str] = []
        self.seen: set[str] = set()

    def check(self, pod: Mapping[str, Any]) -> list[str]:
        """What to say about this pod: its problems, or what its init container gets;
        nothing when it was seen before or nothing needs handing over."""
        name = str((pod.get("metadata") or {}).get("name"))
        if name in self.seen or not needed(self.section):
            return []
        self.seen.add(name)
        if not self.read:
            self.keys, self.read = self.read_keys(), True
        found = pod_problems(self.section, pod, self.keys)
        self.problems.extend(found)
        return found or [f"job pod {name}: its init container gets {arrives(self.section)}"]
