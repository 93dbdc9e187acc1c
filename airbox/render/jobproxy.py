"""The proxy in job pods: a MutatingAdmissionPolicy and its binding.

Why a policy: the workload launcher of airbyte-platform 1.8 builds each job pod's
environment from a fixed list (airbyte-workload-launcher ``config/
EnvVarConfigBeanFactory.kt``: ``initEnvVars``, ``sideCarEnvVars``, the connectors'
``checkEnvVars``/``readEnvVars``/…; ``config/OrchestratorEnvVarFactory.kt`` copies only
``OrchestratorConstants.ENV_VARS_TO_TRANSFER`` from its own environment).
``JOB_DEFAULT_ENV_`` is declared in airbyte-commons ``envvar/EnvVar.kt`` and read
nowhere, so no setting of the launcher or the chart puts a variable into those pods. Its
pods all carry the label ``airbyte=job-pod`` (``pods/PodLabeler.kt``, the sweeper's
label): an admission policy on that label reaches the init container, the orchestrator,
the sidecar and the connectors alike, whatever the launcher builds.

The policy adds, to every container and init container, an env entry per proxy
variable taken from the data plane's Secret (``valueFrom.secretKeyRef``: the URL may
hold a password, so no manifest holds a value), unless the container already has a
variable of that name. JSON Patch, not an apply configuration: the API server refuses an
apply configuration that sets an atomic struct, and ``secretKeyRef`` is one
(k8s.io/api core/v1 ``SecretKeySelector``, ``+structType=atomic``; apiserver
``admission/plugin/policy/mutating/patch/smd.go``, ``validatePatch``).

Kubernetes 1.34 and 1.35 (the node images airbox pins) serve the API as
``admissionregistration.k8s.io/v1beta1`` only with the feature gate
``MutatingAdmissionPolicy`` and that group version enabled (``--runtime-config``); kind's
config sets both. From 1.36 it is ``v1`` (GA), served by default.
"""

from __future__ import annotations

from typing import Any

import yaml

from airbox.config.answers import _NoAliases
from airbox.config.settings import Identity, Settings
from airbox.render.names import MANAGED_BY_LABEL, SECRET_NAME
from airbox.render.proxy import PROXY_SECRET_KEYS

GROUP = "admissionregistration.k8s.io"
# What the pinned node images serve, with the gate below.
API_VERSION = f"{GROUP}/v1beta1"
# Every version airbox can use, preferred first (v1: Kubernetes 1.36+).
API_VERSIONS = (f"{GROUP}/v1", API_VERSION)
FEATURE_GATE = "MutatingAdmissionPolicy"
RUNTIME_CONFIG = {API_VERSION: "true"}
POLICY_KIND = "MutatingAdmissionPolicy"
BINDING_KIND = "MutatingAdmissionPolicyBinding"
POLICY_RESOURCE = "mutatingadmissionpolicies"
BINDING_RESOURCE = "mutatingadmissionpolicybindings"
# The launcher's label on every pod it starts (airbyte-workload-launcher pods/PodLabeler.kt).
JOB_POD_LABELS = {"airbyte": "job-pod"}
# The namespace's own name label, set by the API server on every namespace (1.22+).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def object_name(settings: Identity) -> str:
    """Both objects are cluster-scoped: named after the namespace and the data plane, so
    two data planes in one cluster never share them."""
    return f"airbox-job-proxy.{settings.namespace}.{settings.name}"


def wanted(settings: Settings) -> bool:
    """A proxy is set: the job pods need it."""
    return settings.network is not None


def env_entries(keys: tuple[str, ...] = PROXY_SECRET_KEYS) -> list[tuple[str, str]]:
    """(variable, Secret key) for each variable a job pod gets: each key under its own
    name, and the ``*_PROXY`` ones under their lower-case names too (curl and many
    libraries read only ``http_proxy``/``https_proxy``)."""
    entries: list[tuple[str, str]] = []
    for key in keys:
        entries.append((key, key))
        if key.endswith("_PROXY") and key.lower() != key:
            entries.append((key.lower(), key))
    return entries


def _patches(field: str, env: str, key: str, secret: str) -> str:
    """CEL: the JSON Patch operations adding ``env`` to each container of ``field`` that
    has no variable of that name (the whole ``env`` list where it has none)."""
    t = f"Object.spec.{field}.env"
    value = (
        f'{t}{{name: "{env}", valueFrom: {t}.valueFrom{{secretKeyRef: '
        f'{t}.valueFrom.secretKeyRef{{name: "{secret}", key: "{key}"}}}}}}'
    )
    path = f'"/spec/{field}/" + string(i) + "/env'
    return (
        f"object.spec.{field}.transformList(i, c,\n"
        f'  !has(c.env) || !c.env.exists(e, e.name == "{env}"),\n'
        f"  has(c.env)\n"
        f'    ? JSONPatch{{op: "add", path: {path}/-", value: {value}}}\n'
        f'    : JSONPatch{{op: "add", path: {path}", value: [{value}]}})'
    )


def mutation_expression(env: str, key: str, secret: str = SECRET_NAME) -> str:
    """One variable into every container and init container of the pod."""
    return (
        _patches("containers", env, key, secret)
        + "\n+ (has(object.spec.initContainers) ?\n"
        + _patches("initContainers", env, key, secret)
        + "\n: [])\n"
    )


def manifests(
    name: str,
    data_plane: str,
    namespace: str,
    *,
    secret: str = SECRET_NAME,
    keys: tuple[str, ...] = PROXY_SECRET_KEYS,
    api_version: str = API_VERSION,
) -> list[dict[str, Any]]:
    """The policy and its binding: pods labelled ``airbyte=job-pod`` created in
    ``namespace`` get the proxy variables from ``secret``'s ``keys``.

    ``failurePolicy: Fail``: a pod the policy cannot complete is refused with the policy's
    error, which the launcher reports as the job's failure. Let through (``Ignore``), it
    would run without the proxy and fail later and obscurely, on a timeout to the control
    plane or a source. ``reinvocationPolicy: IfNeeded``: a container another admission
    plugin adds later (a mesh's sidecar) gets the variables too; each mutation adds only
    what is missing, so running again changes nothing.
    """
    labels = dict(MANAGED_BY_LABEL, **{"airbox.airbyte.io/data-plane": data_plane})
    meta = {"name": name, "labels": labels}
    policy = {
        "apiVersion": api_version,
        "kind": POLICY_KIND,
        "metadata": dict(meta),
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ],
                "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}},
                "objectSelector": {"matchLabels": dict(JOB_POD_LABELS)},
            },
            "failurePolicy": "Fail",
            "reinvocationPolicy": "IfNeeded",
            "mutations": [
                {
                    "patchType": "JSONPatch",
                    "jsonPatch": {"expression": mutation_expression(env, key, secret)},
                }
                for env, key in env_entries(keys)
            ],
        },
    }
    binding = {
        "apiVersion": api_version,
        "kind": BINDING_KIND,
        "metadata": dict(meta),
        "spec": {"policyName": name},
    }
    return [policy, binding]


def for_settings(settings: Settings, api_version: str = API_VERSION) -> list[dict[str, Any]]:
    return manifests(
        object_name(settings), settings.name, settings.namespace, api_version=api_version
    )


class _Dumper(_NoAliases):
    """Multi-line strings (the CEL expressions) as literal blocks, readable as written."""


def _str(dumper: _Dumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(docs: list[dict[str, Any]]) -> str:
    """The documents as one YAML stream (``kubectl apply -f -``)."""
    return "".join(
        "---\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
        for doc in docs
    )
