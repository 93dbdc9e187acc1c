"""The proxy every hop gets: pure functions of the settings.

Where the settings' proxy goes:
- airbox's own HTTP calls and the tools it runs (kind, helm): ``proxy_env`` in the
  process environment (``installed.use_proxy``); kind copies the variables into the node's
  environment, so containerd pulls through the proxy.
- the workload launcher and the job pods: the Secret's ``PROXY_SECRET_KEYS``, taken with
  ``secretKeyRef`` (the URL can hold a password: never a literal value in values.yaml).

The launcher is a JVM whose HTTP clients ignore HTTPS_PROXY: its calls to the control
plane (airbyte-platform 1.8, airbyte-api/server-api ``ApiClientSupportFactory`` and
airbyte-api/workload-api ``WorkloadApiClientFactory``, the token endpoint's
``AccessTokenInterceptor`` client) are OkHttp clients built with no proxy of their own,
so OkHttp asks the JVM's default ``ProxySelector``, which reads the ``http(s).proxyHost``
system properties: ``JAVA_TOOL_OPTIONS`` sets them (the JVM reads that variable itself, at
start). OkHttp's proxy authenticator is ``Authenticator.NONE`` unless a client sets one,
and no platform client does: a proxy that demands credentials answers those calls 407.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from airbox.config.settings import Network, Settings

# kind's default ranges (kind v0.31 pkg/apis/config/v1alpha4/default.go); airbox's kind
# config keeps them. The API server's Service is the first address of the service range.
KIND_SERVICE_SUBNET = "10.96.0.0/16"
KIND_POD_SUBNET = "10.244.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
# The cloud instance metadata service: link-local, never through a proxy (a proxy would
# either fail the call or answer for another machine).
METADATA_IP = "169.254.169.254"

HTTPS_PROXY, HTTP_PROXY, NO_PROXY = "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"
JAVA_TOOL_OPTIONS = "JAVA_TOOL_OPTIONS"
# The keys of the generated Secret (airbyte-config-secrets) holding the proxy.
PROXY_SECRET_KEYS: tuple[str, ...] = (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, JAVA_TOOL_OPTIONS)


def must_stay_inside(settings: Settings) -> list[str]:
    """What NO_PROXY always gains: the cluster's ranges and names, loopback, the local
    object store, the node, and the metadata service."""
    return inside(settings.namespace, settings.node_container)


def inside(namespace: str, node: str | None) -> list[str]:
    from airbox.render.names import LOCAL_STORE

    return [
        "localhost",
        "127.0.0.1",
        "::1",
        KIND_SERVICE_SUBNET,
        KIND_POD_SUBNET,
        KUBERNETES_SERVICE_IP,
        ".svc",
        ".cluster.local",
        "kubernetes.default",
        # The namespace's services by their short names (airbox-minio.airbyte:9000).
        f".{namespace}",
        LOCAL_STORE,
        f"{LOCAL_STORE}.{namespace}",
        *([node] if node else []),
        METADATA_IP,
    ]


def no_proxy(settings: Settings) -> list[str]:
    """The user's entries, then what must stay inside; each once."""
    network = settings.network
    given = list(network.no_proxy) if network is not None else []
    return list(dict.fromkeys([*given, *must_stay_inside(settings)]))


def proxy_env(settings: Settings) -> dict[str, str]:
    """HTTPS_PROXY, HTTP_PROXY, NO_PROXY and their lower-case twins; {} without a proxy."""
    if settings.network is None:
        return {}
    return env_of(settings.network, no_proxy(settings))


def env_of(network: Network, no_proxy_list: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in (
        (HTTPS_PROXY, network.https_proxy),
        (HTTP_PROXY, network.http_proxy),
        (NO_PROXY, ",".join(no_proxy_list)),
    ):
        if value:
            env[name] = env[name.lower()] = value
    return env


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def java_non_proxy_hosts(entries: list[str]) -> list[str]:
    """NO_PROXY entries as ``http.nonProxyHosts`` patterns: a domain also covers its
    subdomains, and an IPv4 range becomes its whole-octet prefix (``10.96.*``; the JVM has
    no CIDR, so a range not on an octet boundary is widened to the enclosing one)."""
    out: list[str] = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        if entry == "*":
            out.append("*")
            continue
        if "/" in entry:
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if net.version == 4:
                octets = str(net.network_address).split(".")[: net.prefixlen // 8]
                out.append(".".join([*octets, "*"]) if octets else "*")
            continue
        host = entry.lstrip("*").lstrip(".")
        if not host:
            continue
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            out += [host, f"*.{host}"]
        else:
            out.append(host.strip("[]"))
    return list(dict.fromkeys(out))


def java_tool_options(settings: Settings) -> str:
    """The JVM's proxy system properties (no credentials: the platform's OkHttp clients
    would not answer a proxy's 407 with them anyway)."""
    network = settings.network
    if network is None:
        return ""
    opts: list[str] = []
    for scheme, url in (("https", network.https_proxy), ("http", network.http_proxy)):
        if url:
            host, port = _host_port(url)
            opts += [f"-D{scheme}.proxyHost={host}", f"-D{scheme}.proxyPort={port}"]
    # http.nonProxyHosts serves https too.
    opts.append("-Dhttp.nonProxyHosts=" + "|".join(java_non_proxy_hosts(no_proxy(settings))))
    return " ".join(opts)


def secret_data(settings: Settings) -> dict[str, str]:
    """The Secret's proxy keys (every one of ``PROXY_SECRET_KEYS``, empty when that proxy
    is not set: a secretKeyRef to a missing key keeps a pod from starting); {} without a
    proxy."""
    env = proxy_env(settings)
    if not env:
        return {}
    return {
        HTTPS_PROXY: env.get(HTTPS_PROXY, ""),
        HTTP_PROXY: env.get(HTTP_PROXY, ""),
        NO_PROXY: env.get(NO_PROXY, ""),
        JAVA_TOOL_OPTIONS: java_tool_options(settings),
    }


def pod_env(secret_name: str, settings: Settings) -> list[dict[str, Any]]:
    """A container's proxy variables, each a secretKeyRef to the Secret (the lower-case
    twins from the same keys: curl and Go read those first); [] without a proxy."""
    data = secret_data(settings)
    env: list[dict[str, Any]] = []
    for key in PROXY_SECRET_KEYS:
        if key not in data:
            continue
        names = [key] if key == JAVA_TOOL_OPTIONS else [key, key.lower()]
        env += [
            {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}
            for name in names
        ]
    return env


def secret_values(data: Mapping[str, str]) -> list[str]:
    """The values of the Secret's data to mask: each whole, but of the proxy keys only the
    password (the proxy's host, NO_PROXY and the JVM's options stay readable in logs)."""
    from airbox.config.settings import proxy_passwords

    found: list[str] = []
    for key, value in data.items():
        if key in (HTTPS_PROXY, HTTP_PROXY):
            found += proxy_passwords(value)
        elif key not in (NO_PROXY, JAVA_TOOL_OPTIONS):
            found.append(value)
    return found


# On the launcher's pod template: which proxy it runs with. Pods read the Secret's values
# when they start, so a new proxy must change the template (Helm then rolls the launcher).
PROXY_ANNOTATION = "airbox.airbyte.io/proxy"


def fingerprint(settings: Settings) -> str | None:
    """The proxy's fingerprint, without its password (a short hash of a password a person
    chose could be reversed by trying): a new password alone restarts nothing."""
    import hashlib

    from airbox.config.settings import without_password

    env = proxy_env(settings)
    if not env:
        return None
    parts = [
        without_password(env.get(HTTPS_PROXY, "")),
        without_password(env.get(HTTP_PROXY, "")),
        env.get(NO_PROXY, ""),
    ]
    return hashlib.sha256("\0".join(["airbox-proxy", *parts]).encode()).hexdigest()[:16]
