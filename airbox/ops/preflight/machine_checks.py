"""Preflight's checks of the machine: Docker (CLI, daemon, access, version), CPU, memory,
disk, inotify limits and cgroups, with the thresholds they judge by."""

from __future__ import annotations

import getpass
import os
import re

from airbox import versions
from airbox.errors import DockerError
from airbox.ops.preflight.facts import DockerFacts, daemon_is_local, docker_problem
from airbox.ops.preflight.probe import Probe
from airbox.ops.preflight.report import Verdict, failed, passed, skipped, warned

GiB = 1024**3

# Airbyte documents 8 CPU / 16 GB as the minimum for a data plane VM and 24 GB as the
# recommendation: below that, warn. The floor (fail) is what one sync needs at all:
# the kind node's control plane (kubeadm documents 2 CPUs and ~1.7 GB as the least
# for a control-plane node), the workload launcher (a JVM, ~1 GB) and one sync's job pods
# (orchestrator, source and destination, 1-2 GB together). Below 2 CPU / 4 GB the
# first sync's pods stay Pending or get OOM-killed, so an install would only look
# healthy.
CPU_FLOOR = 2
CPU_MINIMUM = 8
# Docker reports the kernel's MemTotal, which is 3-6 % below the size a VM is sold
# with (firmware and kernel reservations): a "16 GB" VM shows about 15.5 GiB. The
# memory thresholds carry that slack so a VM of the documented size passes.
MEMORY_FLOOR = int(3.5 * GiB)  # a 4 GB machine
MEMORY_MINIMUM = 15 * GiB  # a 16 GB machine
MEMORY_RECOMMENDED = 23 * GiB  # a 24 GB machine
# Where Docker keeps its data also holds the kind node's containerd store, so every
# data plane image is there twice (pulled on the host, then `kind load`ed): the node
# image (~1 GB), the data plane images (~3 GB) twice, plus a connector pair per
# sync (0.5-2 GB each). Below 10 GiB the first sync cannot pull its connectors, and
# the kubelet starts evicting pods when its filesystem drops under 10-15 % free.
# 30 GiB leaves room for a dozen connector images, logs and upgrades.
DISK_FLOOR = 10 * GiB
DISK_MINIMUM = 30 * GiB
# Docker 20.10 is the first release with cgroup v2 support, and the oldest that any
# supported distribution still ships (Debian 11/12's docker.io).
MIN_DOCKER = (20, 10)
# kind's known-issues page: the defaults (8192 watches, 128 instances on many
# distributions) run out with a Kubernetes node's many watchers: "too many open files".
INOTIFY_WANTED = {"fs.inotify.max_user_watches": 524288, "fs.inotify.max_user_instances": 512}
INOTIFY_CONF = "/etc/sysctl.d/99-airbox-inotify.conf"

_VERSION = re.compile(r"(\d+)\.(\d+)")


def no_docker(error: DockerError | None = None) -> str:
    where = (
        "docker.access"
        if error is not None and docker_problem(error) == "access"
        else "docker.daemon"
    )
    return f"not checked: Docker is not usable (see {where})"


def check_docker_cli(p: Probe) -> Verdict:
    path = p.facts.docker_cli()
    if path:
        return passed(f"docker is {path}")
    return failed(
        "the docker command is not on PATH; kind runs it to create the cluster",
        "install Docker Engine with its CLI (scripts/install.sh does it), "
        "or add the directory holding docker to PATH",
    )


def check_docker_daemon(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        if docker_problem(docker) == "access":
            return skipped(
                "not checked: this user may not use the Docker socket (see docker.access)"
            )
        return failed(docker.message, docker.hint or "start Docker: sudo systemctl start docker")
    where = "Docker Desktop" if docker.desktop else docker.endpoint
    return passed(f"Docker {docker.version} answers at {where}")


def check_docker_access(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        if docker_problem(docker) == "access":
            return failed(
                docker.message, docker.hint or "sudo usermod -aG docker $USER, then log in again"
            )
        return skipped("not checked: no Docker daemon answered (see docker.daemon)")
    return passed(f"{_user()} can use the Docker daemon")


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # an arbitrary uid without a passwd entry (containers)
        return f"uid {os.getuid()}"


def parse_version(text: str) -> tuple[int, int] | None:
    match = _VERSION.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_docker_version(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(no_docker(docker))
    version = parse_version(docker.version)
    minimum = ".".join(map(str, MIN_DOCKER))
    if version is None:
        return warned(
            f"the daemon did not report a version ({docker.version!r})",
            f"make sure this is Docker Engine {minimum} or newer: docker version",
        )
    if version < MIN_DOCKER:
        return failed(
            f"Docker {docker.version} is older than {minimum}",
            f"upgrade Docker Engine to {minimum} or newer (your distribution's "
            "docker package, or https://docs.docker.com/engine/install/)",
        )
    return passed(f"Docker {docker.version} (at least {minimum})")


def _resize_fix(docker: DockerFacts, what: str) -> str:
    if docker.desktop:
        return f"raise the {what} limit in Docker Desktop > Settings > Resources"
    return f"give this machine more {what} (resize the VM), then run airbox again"


def check_cpu(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(no_docker(docker))
    cpus = docker.cpus
    if cpus < CPU_FLOOR:
        return failed(
            f"Docker sees {cpus} CPU; a data plane cannot run a sync on fewer than {CPU_FLOOR}",
            _resize_fix(docker, "CPU"),
        )
    if cpus < CPU_MINIMUM:
        return warned(
            f"Docker sees {cpus} CPUs; Airbyte's minimum is {CPU_MINIMUM}: syncs will "
            "be slow and few at a time",
            _resize_fix(docker, "CPU"),
        )
    return passed(f"Docker sees {cpus} CPUs (minimum {CPU_MINIMUM})")


def _gib(value: int) -> str:
    return f"{value / GiB:.1f} GiB"


def check_memory(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(no_docker(docker))
    memory = docker.memory
    if memory < MEMORY_FLOOR:
        return failed(
            f"Docker sees {_gib(memory)} of memory; the kind node, the launcher and "
            "one sync need at least 4 GB",
            _resize_fix(docker, "memory"),
        )
    if memory < MEMORY_MINIMUM:
        return warned(
            f"Docker sees {_gib(memory)} of memory; Airbyte's minimum is 16 GB "
            "(24 GB recommended): syncs may be OOM-killed",
            _resize_fix(docker, "memory"),
        )
    if memory < MEMORY_RECOMMENDED:
        return passed(
            f"Docker sees {_gib(memory)} of memory (minimum 16 GB; Airbyte recommends 24 GB)"
        )
    return passed(f"Docker sees {_gib(memory)} of memory (24 GB recommended)")


def check_disk(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(no_docker(docker))
    root = docker.root_dir or "/var/lib/docker"
    if not docker.local:
        return skipped(
            f"not measured: Docker keeps its data at {root} on another machine "
            "or VM; make sure it has 30 GB free"
        )
    free = p.facts.disk_free(root)
    if free is None:
        return skipped(
            f"not measured: cannot read the filesystem of {root} "
            "(make sure it has 30 GB free: df -h)"
        )
    fix = (
        f"free space on the filesystem of {root} (`docker system prune -a` removes unused "
        "images), or grow the disk"
    )
    if free < DISK_FLOOR:
        return failed(f"{_gib(free)} free at {root}; images alone need {_gib(DISK_FLOOR)}", fix)
    if free < DISK_MINIMUM:
        return warned(
            f"{_gib(free)} free at {root}; below {_gib(DISK_MINIMUM)} connector images "
            "and logs will fill it",
            fix,
        )
    return passed(f"{_gib(free)} free at {root}")


def check_inotify(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerFacts) and not docker.local:
        return skipped(
            "not checked: the Docker daemon runs on another kernel "
            "(Docker Desktop or a remote DOCKER_HOST)"
        )
    if isinstance(docker, DockerError) and not daemon_is_local(p.environ):
        return skipped("not checked: DOCKER_HOST points at another machine")
    values = {key: p.facts.sysctl(key) for key in INOTIFY_WANTED}
    if all(value is None for value in values.values()):
        return skipped("not checked: no /proc/sys/fs/inotify on this machine")
    low = {
        key: value
        for key, value in values.items()
        if value is not None and value < INOTIFY_WANTED[key]
    }
    shown = ", ".join(f"{key.rsplit('.', 1)[1]}={value}" for key, value in values.items())
    if not low:
        return passed(shown)
    wanted = " ".join(f"{key}={INOTIFY_WANTED[key]}" for key in low)
    lines = "\\n".join(f"{key} = {INOTIFY_WANTED[key]}" for key in low)
    return warned(
        f'{shown}; kind needs more (pods fail with "too many open files")',
        f"sudo sysctl -w {wanted} && printf '{lines}\\n' | sudo tee {INOTIFY_CONF} "
        "(the file keeps it across reboots)",
    )


def check_cgroup(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(no_docker(docker))
    if docker.cgroup_version == "2":
        return passed("cgroup v2")
    if docker.cgroup_version != "1":
        return skipped("not checked: the daemon does not report its cgroup version")
    fix = (
        "switch the host to cgroup v2: add systemd.unified_cgroup_hierarchy=1 to the kernel "
        "command line (RHEL: sudo grubby --update-kernel=ALL --args=...; Debian/Ubuntu: "
        "GRUB_CMDLINE_LINUX in /etc/default/grub, then sudo update-grub) and reboot, or use "
        "a release with v2 by default (Ubuntu 22.04+, Debian 11+, RHEL 9+, Amazon Linux 2023)"
    )
    # Kubernetes 1.35+ refuses cgroup v1; airbox then runs an older node image instead.
    older = versions.NODE_IMAGE_CGROUP_V1.split("@", 1)[0].rsplit(":", 1)[-1]
    return warned(
        f"the host uses cgroup v1, which Kubernetes 1.35+ refuses: airbox runs "
        f"the kind node at Kubernetes {older} instead",
        fix,
    )
