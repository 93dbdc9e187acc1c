#!/usr/bin/env python3
"""How fast are `bundle create`, `verify` and `unpack`, and is their memory flat in the
bundle's size?

Builds images locally (one layer of random, incompressible bytes each: as a real image's
layers, they do not shrink) at two sizes, with fake kind/helm/kubectl of random bytes and
the real chart when it is at hand, then runs each step N times in a child process of its
own (create: docker save streamed into the tar; verify: one pass over every byte; unpack:
the verify pass, then docker load of every image, removed beforehand, and the binaries
placed). Prints each step's median wall time and its peak memory (the child's maximum
resident set, ``getrusage``), and above what the child held before the step started.

Targets: each step's peak above its start under 64 MB at both sizes, and the larger
bundle's no more than 16 MB above the smaller's (memory flat in the bundle's size).
Times are reported with loose targets (throughput on a shared machine means little).

    python scripts/bench_bundle.py [-n 3] [--small-mb 100] [--large-mb 400]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from benchlib import report  # noqa: E402

IMAGES_PER_BUNDLE = 4
TOOLS = {"kind": 10, "helm": 20, "kubectl": 20}  # MB of random bytes each
CHART = next(
    (
        p / "airbyte-data-plane-1.8.1.tgz"
        for p in (REPO.parent / "shared" / "charts", REPO.parent.parent / "shared" / "charts")
        if (p / "airbyte-data-plane-1.8.1.tgz").is_file()
    ),
    None,
)

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from airbox.cluster.dockerhost import DockerHost
from airbox.offline import archive

args = json.loads(sys.argv[1])
docker = DockerHost.connect(timeout=120)
start_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
if args["op"] == "create":
    archive.create(Path(args["bundle"]), docker=docker, connectors=[], chart_version="1.8.1",
                   chart_file=Path(args["chart"]), images=[tuple(i) for i in args["images"]])
elif args["op"] == "verify":
    archive.verify(Path(args["bundle"]))
else:
    done = archive.unpack(Path(args["bundle"]), into=Path(args["into"]), docker=docker)
    assert len(done.loaded) == len(args["images"]), done.loaded
seconds = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "start_kb": start_kb, "peak_kb": peak_kb}))
"""


def random_file(path: Path, megabytes: int) -> None:
    with open(path, "wb") as out:
        for _ in range(megabytes):
            out.write(os.urandom(1 << 20))


def build_image(client: Any, ref: str, megabytes: int, work: Path) -> None:
    noise = work / "noise.bin"
    random_file(noise, megabytes)
    layer = work / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        tar.add(noise, arcname="noise.bin")
    noise.unlink()
    repository, _, tag = ref.rpartition(":")
    client.api.import_image_from_file(str(layer), repository=repository, tag=tag)
    layer.unlink()


def fake_chart(work: Path) -> Path:
    import io

    path = work / "airbyte-data-plane-1.8.1.tgz"
    with tarfile.open(path, "w:gz") as tar:
        data = b"apiVersion: v2\nname: airbyte-data-plane\nversion: 1.8.1\nappVersion: 1.8.1\n"
        info = tarfile.TarInfo("airbyte-data-plane/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def step(op: str, env: dict[str, str], **args: Any) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({"op": op, **args})],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{op} failed:\n{proc.stderr}")
    found: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def measure(
    client: Any, megabytes: int, runs: int, work: Path, env: dict[str, str]
) -> dict[str, list[dict[str, float]]]:
    unique = uuid.uuid4().hex[:8]
    refs = [f"airbox-bench/bundle-{unique}-{n}:1" for n in range(IMAGES_PER_BUNDLE)]
    results: dict[str, list[dict[str, float]]] = {"create": [], "verify": [], "unpack": []}
    try:
        for ref in refs:
            build_image(client, ref, megabytes // IMAGES_PER_BUNDLE, work)
        images = [("image", ref) for ref in refs]
        chart = CHART or fake_chart(work)
        bundle = work / f"bench-{megabytes}.bundle"
        for _ in range(runs):
            results["create"].append(
                step("create", env, bundle=str(bundle), chart=str(chart), images=images)
            )
            results["verify"].append(step("verify", env, bundle=str(bundle)))
            for ref in refs:
                client.images.remove(ref)
            into = Path(tempfile.mkdtemp(dir=work))
            results["unpack"].append(
                step("unpack", env, bundle=str(bundle), into=str(into), images=images)
            )
        size = bundle.stat().st_size
        print(
            f"bundle of {size / 1e6:.0f} MB ({IMAGES_PER_BUNDLE} images of "
            f"{megabytes // IMAGES_PER_BUNDLE} MB of random bytes, binaries, chart)"
        )
    finally:
        for ref in refs:
            with contextlib.suppress(Exception):
                client.images.remove(ref)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=3)
    parser.add_argument("--small-mb", type=int, default=100)
    parser.add_argument("--large-mb", type=int, default=400)
    args = parser.parse_args()
    import docker

    client = docker.from_env(timeout=600)
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        work = Path(tmp)
        env = dict(os.environ)
        for tool, megabytes in TOOLS.items():
            binary = work / tool
            random_file(binary, megabytes)
            binary.chmod(0o755)
            env[f"AIRBOX_{tool.upper()}"] = str(binary)
        env["AIRBOX_HOME"] = str(work / "home")
        env["PYTHONPATH"] = str(REPO)
        sizes = {
            args.small_mb: measure(client, args.small_mb, args.runs, work, env),
            args.large_mb: measure(client, args.large_mb, args.runs, work, env),
        }

    rows = []
    ok = True
    for megabytes, results in sizes.items():
        for op, runs in results.items():
            seconds = [r["seconds"] for r in runs]
            # Loose: about 20 MB/s per step at the least, on a busy machine.
            rows.append((f"{op:6} ({megabytes} MB of images)", seconds, max(10.0, megabytes / 20)))
    ok = report(rows) and ok
    growth: dict[str, list[float]] = {}
    for megabytes, results in sizes.items():
        for op, runs in results.items():
            above = statistics.median((r["peak_kb"] - r["start_kb"]) / 1024 for r in runs)
            peak = statistics.median(r["peak_kb"] / 1024 for r in runs)
            growth.setdefault(op, []).append(above)
            ok = ok and above < 64
            print(
                f"{op:6} ({megabytes} MB of images): peak RSS {peak:.0f} MB, "
                f"{above:.1f} MB above its start (target < 64 MB)"
            )
    for op, (small, large) in growth.items():
        flat = large - small <= 16
        ok = ok and flat
        print(
            f"{op:6}: {large - small:+.1f} MB from {args.small_mb} to {args.large_mb} MB "
            f"of images (target <= +16 MB): {'flat' if flat else 'NOT flat'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
