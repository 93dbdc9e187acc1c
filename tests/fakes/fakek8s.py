"""Fake ``kind``, ``helm`` and ``kubectl`` for airbox's tests: ``main(tool, argv) -> int``.

Only what airbox runs is modelled. ``airbox/cluster/commands.py`` builds most of these
command lines; the table says where each is run (paths under ``airbox/``). Every command
allows exactly the flags listed here (``TREE`` in ``k8s_kind``, ``k8s_kubectl``,
``k8s_helm``); any other flag or command gets the real tool's own error and exit 1
(``k8s_flags``: pflag's "unknown flag", cobra's "unknown command"), so a new call in airbox
fails loudly until it is modelled here. An output format airbox never reads (a table,
``-o yaml``, ``-o jsonpath``) says "not implemented (airbox never uses it)", exit 2.

======================================  ===================================================
command (kubectl/helm also get          run by
--kubeconfig, --context/--kube-context,
mostly --namespace)
======================================  ===================================================
kind version                            cluster/toolchain.py (a kind found on PATH)
kind get clusters                       ops/install/steps_cluster.py, ops/uninstall_survey.py
kind create cluster --name --config     ops/install/steps_cluster.py
  --kubeconfig --wait 120s
kind export kubeconfig --name           ops/install/steps_cluster.py, ops/repair.py
  --kubeconfig
kind load docker-image --name IMAGE...  ops/install/steps_cluster.py, ops/bundled.py
kind delete cluster --name --kubeconfig ops/install/steps_cluster.py, ops/uninstall.py,
                                        ops/upgrade.py
kind export logs DIR --name             ops/bundle.py
kubectl version --client -o json        cluster/toolchain.py (a kubectl found on PATH)
kubectl apply -f -                      ops/install/steps_kube.py, ops/repair.py,
                                        ops/jobproxy.py (manifests on stdin only)
kubectl get --raw /readyz               ops/install/steps_cluster.py, ops/repair.py
kubectl get --raw /apis/admissionreg-   ops/jobproxy.py, ops/install/steps_kube.py
  istration.k8s.io/{v1,v1beta1}
kubectl get TYPE[,TYPE] [NAME]          cluster/kube.py, ops/status/probes.py,
  -o json|name [-l K=V,...]             ops/jobproxy.py, ops/uninstall_survey.py,
  [--field-selector type=Warning]       ops/hydration.py, ops/install/*.py, ops/bundle.py,
  [--ignore-not-found]                  ops/upgrade_plan.py (pods, events, nodes,
                                        namespace, secret, deployment(s), job, configmap,
                                        mutatingadmissionpolicies, ...bindings)
kubectl describe pods                   ops/bundle.py
kubectl logs POD|deployment/NAME        ops/logs.py, ops/bundle.py, ops/status/probes.py,
  [--container C] [--all-containers]    ops/install/steps_release.py
  [--follow] [--since D] [--tail N]
  [--previous]
kubectl rollout status deployment/NAME  ops/install/steps_release.py, steps_kube.py,
  --timeout=D                           ops/repair.py
kubectl rollout restart deployment/NAME ops/repair.py, ops/install/steps_kube.py
kubectl wait --for=condition=complete   ops/install/steps_kube.py (the store's bucket Job)
  job/NAME --timeout=D
kubectl delete TYPE NAME|TYPE/NAME      ops/uninstall.py, ops/jobproxy.py,
  --ignore-not-found [--timeout=D]      ops/install/steps_kube.py
helm version --short                    cluster/toolchain.py (a helm found on PATH)
helm template REL CHART [--repo R]      ops/install/steps_release.py, ops/upgrade_plan.py
  --version V --values F
helm upgrade --install REL CHART        ops/install/steps_release.py
  [--repo R] --version V
  --create-namespace --values F --wait
  --timeout 10m --history-max 10
helm status REL -o json                 ops/status/probes.py, ops/preflight/facts.py,
                                        ops/uninstall_survey.py, ops/upgrade_plan.py
helm history REL -o json                ops/install/steps_release.py, ops/repair.py,
                                        ops/upgrade_plan.py
helm rollback REL N --wait --timeout D  ops/install/steps_release.py, ops/repair.py
helm uninstall REL --wait --timeout D   ops/install/steps_release.py, ops/uninstall.py
helm get values REL -o json             ops/upgrade_plan.py, ops/bundle.py
helm get manifest REL                   ops/upgrade_plan.py
helm pull NAME --repo R --version V     offline/archive/writing.py (bundle create)
  --destination D
======================================  ===================================================

Tests call the fakes directly too (``tests/test_fakes.py`` pins their fidelity to the real
tools for the calls above); they add only ``-n``, ``-o name`` on any get, a pod or node by
name in ``kubectl logs``/``wait``, ``rollout status`` without ``--timeout``, ``helm status``
without ``-o``, ``helm upgrade`` without ``--install``, ``helm uninstall --ignore-not-found``,
and local or ``oci://`` charts.

State lives in the directory ``$FAKE_K8S_STATE``:

``state.json``
    clusters (nodes, objects, helm releases, each cluster's fake clock); every invocation
    holds an exclusive ``fcntl.flock`` on ``state.lock`` while it reads and writes it.
``calls.jsonl``
    one JSON line per invocation: tool, argv, cwd, stdin_bytes (a length, never content;
    null when the command did not read stdin), env (names only), pid, time, exit and clock
    (the fake time of the cluster it reached, or null).
``scenario.json``
    how the data plane behaves: ``{"launcher": "ok" | "crashloop" | "imagepull" |
    "auth-fail", "node_ready": true, "log_lines": [...], "ready_delay": 0, "api_delay": 0,
    "offline": false}``; pod status, events and logs are derived from it whenever they are
    read (``k8s_state``: fake time).
``faults.json``
    rules that make a matching invocation fail, hang or be interrupted (``take_fault``).

Modules: ``k8s_state`` (a call's context, files, fake time, kubeconfig, Docker nodes),
``k8s_cluster`` (objects and what the API server and controllers make of them),
``k8s_flags`` (command lines), ``k8s_kind``, ``k8s_kubectl``, ``k8s_helm`` (the commands).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .k8s_flags import NeedSubcommand, Tool, find_command, parse_flags, print_help, usage_error
from .k8s_state import (
    Ctx,
    Fail,
    Obj,
    Partial,
    UsageError,
    load_state,
    log_call,
    save_state,
    state_lock,
    take_fault,
)

HANG_SECONDS = 300.0
INTERNAL_ERROR = 70  # exit code of a bug in the fake itself
# A call loads its own tool's commands only (a fake call is a short process of its own).
MODULES = {"kind": "k8s_kind", "kubectl": "k8s_kubectl", "helm": "k8s_helm"}


def tool_of(name: str) -> Tool:
    module = importlib.import_module(f"{__package__}.{MODULES[name]}")
    return Tool(module.TREE, module.GLOBALS)


def run_tool(ctx: Ctx) -> int:
    tool = tool_of(ctx.tool)
    path: list[str] = []
    try:
        try:
            path, cmd, rest = find_command(tool, ctx.argv)
        except NeedSubcommand as exc:
            print_help(ctx.tool, exc.path, exc.node)
            return 0
        ctx.path = path
        opts, args = parse_flags(rest, tool.globals + cmd.flags)
        return cmd.handler(ctx, opts, args)
    except UsageError as exc:
        sys.stderr.write(usage_error(ctx.tool, path, str(exc)))
        return 1
    except Fail as exc:
        sys.stderr.write(exc.message.rstrip("\n") + "\n")
        return exc.code
    except (Partial, KeyboardInterrupt):
        raise
    except Exception:
        import traceback

        traceback.print_exc()
        sys.stderr.write(f"fakek8s: internal error in fake {ctx.tool} (a bug in tests/fakes)\n")
        return INTERNAL_ERROR


def _called_by_airbox() -> bool:
    try:
        argv = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().split(b"\0")[:2]
    except OSError:
        return False
    return any(Path(os.fsdecode(arg)).name == "airbox" for arg in argv if arg)


def interrupt(ctx: Ctx) -> int:
    """What the user's Ctrl-C does: SIGINT to the terminal's foreground process group.
    Under airbox that is airbox's group (airbox runs each tool in a group of its own and
    passes the signal on); called directly (a test), this fake's own group."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.killpg(os.getpgrp(), signal.SIGINT)
    if _called_by_airbox():
        parent = os.getppid()
        # On a terminal airbox leads its own group. A test that started airbox inside the
        # test runner's group must not have the runner interrupted too: signal airbox alone.
        if os.getpgid(parent) == parent:
            os.killpg(parent, signal.SIGINT)
        else:
            os.kill(parent, signal.SIGINT)
    return 130


def main(tool: str, argv: list[str]) -> int:
    if tool not in MODULES:
        sys.stderr.write(f"fakek8s: unknown tool {tool!r}\n")
        return 2
    state_env = os.environ.get("FAKE_K8S_STATE")
    if not state_env:
        sys.stderr.write(f"fakek8s: FAKE_K8S_STATE is not set; {tool} is a test fake\n")
        return 2
    ctx = Ctx(tool, list(argv), Path(state_env))
    code: int | None = None
    logged = False
    with state_lock(ctx.state_dir) as lock:
        try:
            fault = take_fault(ctx.state_dir, tool, ctx.argv)
            action = fault.get("action", "fail") if fault else None
            after_work = fault is not None and fault.get("after") == "work"
            if fault is not None and not after_work:
                logged = True
                return act_on_fault(ctx, fault, lock)
            ctx.partial = after_work and action in ("interrupt", "hang")
            ctx.state = load_state(ctx.state_dir)
            with contextlib.suppress(Partial):
                code = run_tool(ctx)
            if ctx.dirty:
                save_state(ctx)
            sys.stdout.flush()
            sys.stderr.flush()
            if fault is not None:
                logged = True
                return act_on_fault(ctx, fault, lock)
            return code if code is not None else INTERNAL_ERROR
        finally:
            if not logged:
                log_call(ctx, code)
            sys.stdout.flush()
            sys.stderr.flush()


class _HangEnded(Exception):
    pass


def _end_hang(signum: int, frame: Any) -> None:
    raise _HangEnded


def act_on_fault(ctx: Ctx, fault: Obj, lock: Any) -> int:
    """Carry out a fault after (or instead of) the command's work; logs the call itself."""
    action = fault.get("action", "fail")
    if action == "interrupt":
        log_call(ctx, 130)
        fcntl.flock(lock, fcntl.LOCK_UN)
        return interrupt(ctx)
    if action == "hang":
        log_call(ctx, None)
        fcntl.flock(lock, fcntl.LOCK_UN)
        sys.stdout.flush()
        sys.stderr.flush()
        # SIGUSR1 ends the hang early, as if it had lasted (a test releases a slow call
        # when what it waits for is in place: ``FakeK8s.end_hang``).
        signal.signal(signal.SIGUSR1, _end_hang)
        with contextlib.suppress(_HangEnded):
            time.sleep(min(float(fault.get("seconds", HANG_SECONDS)), HANG_SECONDS))
        sys.stderr.write(str(fault.get("stderr", "")))
        return int(fault.get("exit", 1))
    if fault.get("stdout"):
        sys.stdout.write(str(fault["stdout"]).rstrip("\n") + "\n")
    stderr = fault.get("stderr", f"fakek8s: injected failure of {ctx.tool}")
    if stderr:
        sys.stderr.write(str(stderr).rstrip("\n") + "\n")
    rc = int(fault.get("exit", 1))
    log_call(ctx, rc)
    return rc
