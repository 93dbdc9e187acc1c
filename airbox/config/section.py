"""The secrets manager and the storage: a typed ``Section`` parsed from its answers, and
what it puts in the generated Secret and the Helm values, all read off its row in
``config/specs.py``.

Parse, don't validate: ``secrets_manager_problems``/``storage_problems`` turn the answers'
section into a ``Section`` and every problem with it in one pass (``Found.value``), so
what is checked and what is built cannot drift apart. ``config/validate.py`` lists the
problems with the other sections'; ``Settings`` takes the built sections. Rendering
(``render/manifests.py``) asks the section for its Secret entries, its Helm values and
its launcher environment instead of re-deriving them type by type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airbox.config.rules import _nonempty, field_problem, load_service_account, normalize_buckets
from airbox.config.specs import BUCKET_KEYS, SECRETS_MANAGERS, STORAGES, TypeSpec
from airbox.errors import Problem


@dataclass(frozen=True)
class Section:
    """A configured secrets manager or storage: its type's row and its section's values.
    A storage also has the bucket of each use (``buckets``; None for a secrets manager)."""

    spec: TypeSpec
    options: Mapping[str, Any]
    buckets: Mapping[str, str] | None = None

    @property
    def type(self) -> str:
        return self.spec.type

    def value(self, key: str) -> Any:
        """The field's value, or its default when it has none."""
        value = self.options.get(key)
        default = self.spec.field(key).default
        return default if value in (None, "") and default is not None else value

    def secret_data(self) -> dict[str, str]:
        """Its keys of the generated Secret and their plain values: every secret field's
        key, empty when the field does not apply (instanceProfile) or has no value, since
        the chart references them whatever the other settings say."""
        data: dict[str, str] = {}
        for fspec in self.spec.fields:
            if fspec.secret_key is None:
                continue
            value = self.options.get(fspec.key)
            if fspec.kind == "json-file" and value:
                content, _ = load_service_account(value)
                value = content
            data[fspec.secret_key] = str(value) if value and fspec.applies(self.options) else ""
            if fspec.file_key is not None:
                data[fspec.file_key] = data[fspec.secret_key]
        return data

    def helm_values(self, secret_name: str) -> dict[str, Any]:
        """Its part of the Helm values (``secretsManager:`` or ``storage:``): Secret keys
        named, never a secret value."""
        fields: dict[str, Any] = {}
        for fspec in self.spec.fields:
            if fspec.secret_key is not None:
                if fspec.values_ref:
                    fields[fspec.values_ref] = fspec.secret_key
                continue
            value: Any = self.options.get(fspec.key)
            if value in (None, ""):
                value = fspec.default
            if value in (None, "", {}) or fspec.launcher_env is not None:
                continue
            if fspec.kind == "tags":
                # The chart wants a list of {key, value} for tags.
                value = [{"key": str(k), "value": str(v)} for k, v in value.items()]
            fields[fspec.key] = value
        for key in self.spec.placeholders:
            fields[key] = f"(in Secret {secret_name})"
        if self.buckets is None:
            return {"type": self.spec.type, "secretName": secret_name, self.spec.section: fields}
        return {
            "secretName": secret_name,
            "type": self.spec.type,
            "bucket": dict(self.buckets),
            self.spec.section: fields,
        }

    def launcher_env(self) -> list[dict[str, Any]]:
        """The launcher's environment for the fields the chart has no value for."""
        env: list[dict[str, Any]] = []
        for fspec in self.spec.fields:
            value = self.options.get(fspec.key)
            if fspec.launcher_env is not None and value:
                text = ",".join(f"{k}={v}" for k, v in value.items())
                env.append({"name": fspec.launcher_env, "value": text})
        return env


class Found(list[Problem]):
    """One section's problems; a typed section's parse also keeps what it built (``value``:
    the ``Section``, or None when there is none or it cannot be built)."""

    value: Section | None = None

    def add(
        self, path: str, message: str, fix: str | None = None, *, missing: bool = False
    ) -> None:
        self.append(Problem(path, message, fix, missing))


def edition(answers: Mapping[str, Any]) -> Any:
    return given(answers, "controlPlane").get("edition") or "cloud"


def given(answers: Mapping[str, Any], root: str) -> dict[str, Any]:
    """The answers' ``root`` section as a mapping; a wrongly typed one is reported by the
    schema check."""
    section = answers.get(root)
    return section if isinstance(section, dict) else {}


def parse_section(
    spec: TypeSpec,
    parent: Mapping[str, Any],
    root: str,
    found: Found,
    buckets: Mapping[str, str] | None = None,
) -> Section | None:
    """The type's section (``parent[spec.section]``) as a ``Section``; every problem with
    it goes to ``found``. None when it is not a mapping."""
    section = parent.get(spec.section) or {}
    where = f"{root}.{spec.section}"
    if not isinstance(section, dict):
        found.add(where, "must be a mapping")
        return None
    known = {f.key for f in spec.fields}
    for key in section:
        if key not in known:
            found.add(
                f"{where}.{key}",
                "is not a field of " + spec.label,
                "use " + ", ".join(sorted(known)),
            )
    for fspec in spec.fields:
        value = section.get(fspec.key)
        path = f"{where}.{fspec.key}"
        if not _nonempty(value):
            if fspec.required and fspec.applies(section):
                found.add(path, f"is required for {spec.label}", fspec.help or None, missing=True)
            continue
        problem = field_problem(fspec, value)
        if problem is not None:
            found.add(path, *problem)
    return Section(spec, dict(section), buckets)


def secrets_manager_problems(answers: Mapping[str, Any]) -> Found:
    found = Found()
    sm = given(answers, "secretsManager")
    sm_type = sm.get("type")
    if not _nonempty(sm_type):
        found.add(
            "secretsManager.type",
            "is required",
            "one of " + ", ".join(SECRETS_MANAGERS) + " — the control plane's secrets manager",
            missing=True,
        )
    elif sm_type not in SECRETS_MANAGERS:
        found.add(
            "secretsManager.type",
            f"{sm_type!r} is not a supported secrets manager",
            "use one of " + ", ".join(SECRETS_MANAGERS),
        )
    else:
        found.value = parse_section(SECRETS_MANAGERS[sm_type], sm, "secretsManager", found)
    return found


def storage_problems(answers: Mapping[str, Any]) -> Found:
    """The storage section; none (``value`` None) means airbox runs a local store."""
    found = Found()
    st = given(answers, "storage")
    st_type = st.get("type")
    if not _nonempty(st_type):
        # Without a storage section airbox runs a store next to the data plane (MinIO in
        # the kind cluster). A self-managed control plane reads the job logs the data
        # plane writes from its own storage, so there the logs must go to that storage;
        # an existing cluster has no host directory airbox could keep the data in.
        # Missing, not wrong: on a terminal the storage question asks for it.
        if edition(answers) == "enterprise":
            found.add(
                "storage",
                "is required with a self-managed (enterprise) control plane",
                "set storage to the bucket(s) your control plane uses (storage.type s3, gcs, "
                "azure, or minio with its endpoint): the control plane reads each sync's "
                "logs from there, and a store inside this VM is out of its reach",
                missing=True,
            )
        elif _nonempty(given(answers, "cluster").get("kubeContext")):
            found.add(
                "storage",
                "is required when installing into an existing cluster",
                "set storage (s3, gcs, azure, or minio with its endpoint): airbox runs a "
                "local store only in the kind cluster it creates",
                missing=True,
            )
        return found
    if st_type not in STORAGES:
        found.add(
            "storage.type",
            f"{st_type!r} is not a supported storage type",
            "use one of " + ", ".join(STORAGES) + ", or leave storage out",
        )
        return found
    spec = STORAGES[st_type]
    bucket = st.get("bucket")
    buckets = normalize_buckets(bucket if isinstance(bucket, (str, dict)) else None)
    found.value = parse_section(spec, st, "storage", found, buckets)
    if not any(buckets.values()):
        found.add(
            "storage.bucket",
            "is required",
            "name the bucket(s): bucket: {log: ..., state: ..., workloadOutput: ...}",
            missing=True,
        )
    named: dict[str, Any] = {}
    if isinstance(bucket, str):
        named[""] = bucket
    elif isinstance(bucket, dict):
        for key in bucket:
            if key not in BUCKET_KEYS:
                found.add(
                    f"storage.bucket.{key}", "is not a bucket use", "use " + ", ".join(BUCKET_KEYS)
                )
            else:
                named[f".{key}"] = bucket[key]
    for suffix, name in named.items():
        bad = None
        if spec.bucket is not None and name not in (None, "", {}, []):
            bad = field_problem(spec.bucket, str(name))
        if bad is not None:
            found.add(f"storage.bucket{suffix}", *bad)
    return found
