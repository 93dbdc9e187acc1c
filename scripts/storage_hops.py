"""Follow ``storage`` from the answers file to the Helm values: which functions handle it.

Runs ``airbox install --answers FILE --dry-run --yes --output-dir DIR`` in this process
(an S3 storage section; no cluster, nothing contacted) under a profiler and lists, in
the order first called, every airbox function that *handles the storage part*: it is
given the storage section itself (the ``storage`` mapping, a ``Storage``, the storage's
``Section``/``TypeSpec``/``FieldSpec``, the bucket name), or its code names ``storage``/
``Storage``/``STORAGES``/``bucket`` (an attribute, a global, a constant). A function that
only passes whole answers or settings along is not a hop; module and class bodies are
not calls.
Prints the hops, the modules and the count; the numbers go in the report of issue 23.

    .venv/bin/python scripts/storage_hops.py
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARKS = {"storage", "Storage", "STORAGES", "bucket", "normalize_buckets", "BUCKET_KEYS"}


def _knows_storage(code: Any) -> bool:
    names = set(code.co_names) | {c for c in code.co_consts if isinstance(c, str)}
    return bool(names & MARKS) or any(
        isinstance(c, str) and c.startswith("storage.") for c in code.co_consts
    )


def _is_storage_part(value: Any) -> bool:
    from airbox.config.settings import STORAGES, FieldSpec, Section, TypeSpec

    specs = list(STORAGES.values())
    if value == "hops-bucket":
        return True
    if isinstance(value, Section):  # a storage is a Section with its buckets
        return value.spec in specs
    if isinstance(value, TypeSpec):
        return value in specs
    if isinstance(value, FieldSpec):
        return any(value in spec.fields or value is spec.bucket for spec in specs)
    return isinstance(value, dict) and value.get("bucket") == "hops-bucket"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="storage-hops-") as tmp:
        home = Path(tmp)
        os.environ["AIRBOX_HOME"] = str(home / "airbox")
        os.environ["HOME"] = str(home)
        answers = home / "dp.yaml"
        answers.write_text(
            "name: hops\n"
            "dataPlane: {clientId: hops-client-id-0001, clientSecret: hops-client-secret-0001}\n"
            "secretsManager: {type: VAULT, vault: {address: 'https://vault.example.com:8200',"
            " authToken: hops-vault-token-0001}}\n"
            "storage: {type: s3, bucket: hops-bucket, s3: {region: us-west-2,"
            " accessKeyId: AKIAIOSFODNN7EXAMPLE, secretAccessKey: hops-s3-secret-0001}}\n"
        )
        hops: list[str] = []

        def profile(frame: FrameType, event: str, arg: Any) -> None:
            if event != "call":
                return
            code = frame.f_code
            path = code.co_filename
            if (
                "/airbox/" not in path
                or "/airbox/cli/" in path
                or not code.co_flags & inspect.CO_NEWLOCALS
            ):
                return
            given = [
                frame.f_locals[name]
                for name in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
                if name in frame.f_locals
            ]
            if not _knows_storage(code) and not any(map(_is_storage_part, given)):
                return
            where = Path(path).relative_to(ROOT).with_suffix("").as_posix()
            name = f"{where}:{getattr(code, 'co_qualname', code.co_name)}"
            if name not in hops:
                hops.append(name)

        from airbox.cli.main import main as airbox

        sys.setprofile(profile)
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                airbox(
                    [
                        "install",
                        "--answers",
                        str(answers),
                        "--dry-run",
                        "--yes",
                        "--output-dir",
                        str(home / "out"),
                    ]
                )
        except SystemExit as exc:
            code = exc.code
        else:
            code = 0
        finally:
            sys.setprofile(None)
        values = (home / "out" / "values.yaml").read_text()
        assert "hops-bucket" in values, values
    for index, hop in enumerate(hops, 1):
        print(f"{index:2} {hop}")
    modules = sorted({hop.split(":")[0] for hop in hops})
    print(f"{len(hops)} functions in {len(modules)} modules: {', '.join(modules)} (exit {code})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
