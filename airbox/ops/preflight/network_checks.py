"""Preflight's checks of what the machine reaches: the tools, the control plane and its API,
the chart repository, the image registry (with a login), Docker's proxy, the clock's
skew, and AWS's metadata service for an instance profile."""

from __future__ import annotations

import email.utils
import os
from urllib.parse import urlsplit

from airbox import versions
from airbox.errors import DockerError
from airbox.ops.preflight.facts import bounded
from airbox.ops.preflight.http_probes import HttpAnswer, RegistryLogin, login_registry, proxied
from airbox.ops.preflight.imds import POD_HOPS, looks_like_ec2
from airbox.ops.preflight.machine_checks import no_docker
from airbox.ops.preflight.probe import Probe
from airbox.ops.preflight.report import DNS_FIX, Verdict, failed, passed, skipped, warned

# The data plane authenticates with short-lived OAuth tokens and signs AWS requests
# (Secrets Manager, S3) with SigV4, which AWS rejects beyond 5 minutes of skew. An
# HTTP Date header has 1 s resolution, so 30 s is well beyond measuring error but
# already enough to make token lifetimes look odd.
SKEW_WARN = 30.0
SKEW_FAIL = 300.0


def _egress_fix(answer: HttpAnswer, p: Probe) -> str:
    host = answer.host
    if answer.error == "dns":
        return f"this machine cannot resolve {urlsplit(answer.url).hostname}: {DNS_FIX}"
    if answer.error == "tls":
        return (
            "if a proxy inspects TLS, point SSL_CERT_FILE at a bundle that includes its "
            "CA certificate; otherwise check the system's CA certificates and the clock"
        )
    if answer.error == "proxy":
        return "check HTTPS_PROXY / HTTP_PROXY (host, port, credentials) and NO_PROXY"
    proxy = (
        " (the proxy from HTTPS_PROXY is used)"
        if proxied(answer.url, p.environ)
        else "; behind a proxy, set HTTPS_PROXY (and NO_PROXY for local addresses)"
    )
    return f"allow outbound HTTPS from this machine to {host}{proxy}"


def _reach(p: Probe, url: str, what: str) -> Verdict:
    return _reach_answer(p, p.http(url), what)


def _reach_answer(p: Probe, answer: HttpAnswer, what: str) -> Verdict:
    url = answer.url
    host = answer.host
    if answer.status is not None:
        took = f"{(answer.received - answer.sent) * 1000:.0f} ms"
        via = " through the proxy" if proxied(url, p.environ) else ""
        if answer.status == 407:
            return failed(
                f"the proxy wants credentials to reach {host} (HTTP 407)",
                "put them in the proxy URL: HTTPS_PROXY=http://user:password@proxy:port",
            )
        if answer.status in (502, 503, 504):
            return warned(
                f"{host} answered HTTP {answer.status}{via}: the service or a proxy "
                "in between is failing",
                f"retry later; if it persists, check the proxy's access to {host}",
            )
        return passed(f"{what} at {host} answered HTTP {answer.status} in {took}{via}")
    reasons = {
        "timeout": f"no answer from {host} within {p.endpoints.timeout:.0f}s",
        "refused": f"{host} refused the connection",
        "dns": f"cannot resolve {urlsplit(url).hostname}",
        "tls": f"the TLS handshake with {host} failed: {answer.detail}",
        "proxy": f"the proxy failed to reach {host}: {answer.detail}",
    }
    reason = reasons.get(answer.error or "", f"cannot reach {host}: {answer.detail}")
    return failed(reason, _egress_fix(answer, p))


def check_tools(p: Probe) -> Verdict:
    """kind (for a kind cluster), helm and kubectl: set, on PATH, already downloaded, or
    downloadable (the host of the pinned download answers). Without this, a machine that
    has none and cannot reach the download host fails in the middle of the install."""
    from airbox.cluster import toolchain

    tools = [t for t in toolchain.TOOLS if t != "kind" or p.subject.is_kind]
    found: list[str] = []
    fetch: list[tuple[str, str]] = []
    problems: list[tuple[str, str]] = []
    for tool in tools:
        var = f"AIRBOX_{tool.upper()}"
        override = p.environ.get(var)
        if override:
            path = os.path.expanduser(override)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                found.append(f"{tool} ({var})")
            else:
                problems.append(
                    (
                        f"{var}={override} is not an executable file",
                        f"point {var} at the {tool} binary, or unset it",
                    )
                )
            continue
        where = p.facts.tool(tool)
        if where is not None:
            found.append(where)
            continue
        if p.subject.bundle:
            # Offline: the bundle's binary, never a download.
            problem = _bundled_tool(p.subject.bundle, tool)
            if problem is None:
                found.append(f"{tool} (from the bundle)")
            else:
                problems.append(
                    (
                        f"{tool} is not installed and {problem}",
                        f"install {tool} and set {var} to its path, or use a bundle "
                        "this airbox made (`airbox bundle create`)",
                    )
                )
            continue
        os_name, arch = toolchain.platform_key()
        try:
            spec = versions.download_for(tool, os_name, arch)
        except KeyError:
            problems.append(
                (
                    f"{tool} is not installed and airbox has no download of it for "
                    f"{os_name}/{arch}",
                    f"install {tool} and set {var} to its path",
                )
            )
            continue
        fetch.append((tool, toolchain.source_url(spec.url, p.environ)))
    for tool, url in fetch:
        answer = p.http(url)
        if answer.status is None or answer.status >= 500:
            host = urlsplit(url).hostname
            problems.append(
                (
                    f"{tool} is not installed and its download host {host} cannot be reached",
                    _egress_fix(answer, p) + f", or install {tool} and "
                    f"set AIRBOX_{tool.upper()} to its path",
                )
            )
        else:
            found.append(f"{tool} (downloaded at install from {urlsplit(url).hostname})")
    if problems:
        return failed("; ".join(m for m, _ in problems), "; ".join(f for _, f in problems))
    return passed(", ".join(found))


def _bundled_tool(bundle: str, tool: str) -> str | None:
    """Why the bundle's ``tool`` cannot serve (None: it can, or the manifest cannot be
    read here: the install verifies the whole bundle before it changes anything)."""
    from pathlib import Path

    from airbox.cluster import toolchain

    try:
        from airbox.offline.archive import read_manifest

        manifest = read_manifest(Path(bundle))
    except Exception:
        return None
    item = next((i for i in manifest.items if i.kind == "binary" and i.name == tool), None)
    if item is None:
        return "the bundle has none"
    pinned = toolchain.pinned_binary_sha256(tool)
    if pinned is not None and item.sha256 != pinned:
        return f"the bundle's {tool} is not the one this airbox pins"
    return None


def check_control_plane(p: Probe) -> Verdict:
    return _reach(p, p.subject.control_plane_url, "the control plane")


def check_api(p: Probe) -> Verdict:
    if not p.subject.api_url:
        return skipped("not needed: airbox does not register a data plane in this run")
    return _reach(p, p.subject.api_url, "the Airbyte API")


def _from_bundle(p: Probe, what: str) -> Verdict | None:
    """With a bundle: ``what`` comes from it, nothing is asked of the network."""
    if not p.subject.bundle:
        return None
    return skipped(f"not needed: {what} from the bundle {p.subject.bundle}")


def check_helm_repo(p: Probe) -> Verdict:
    bundled = _from_bundle(p, "the chart comes")
    if bundled is not None:
        return bundled
    url = p.endpoints.helm_url(p.subject)
    if url is None:
        return skipped(f"not needed: the chart is the local file {p.subject.chart_source}")
    return _reach(p, url, "the Helm repository")


def check_registry(p: Probe) -> Verdict:
    bundled = _from_bundle(p, "every image comes")
    if bundled is not None:
        return bundled
    if p.subject.image_registry and not p.endpoints.registry:
        return _log_in(p, p.endpoints.registry_url(p.subject))
    # Docker Hub's /v2/ answers 401 to anonymous clients: that is reachable.
    return _reach(p, p.endpoints.registry_url(p.subject), "the image registry")


def _log_in(p: Probe, url: str) -> Verdict:
    """The private registry answers, and accepts the pull Secret's credentials."""
    subject = p.subject
    auth = subject.registry_auth
    timeout = p.endpoints.timeout
    login = bounded(
        lambda: login_registry(url, auth, timeout, subject.registry_ca), 4 * timeout + 0.5
    ) or RegistryLogin(url, None, answer=HttpAnswer(url, error="timeout"))
    if login.verdict is None:
        assert login.answer is not None
        reached = _reach_answer(p, login.answer, "the image registry")
        return reached
    host = urlsplit(url).netloc
    which = "images.pullSecret"
    if login.verdict == "accepted":
        return passed(
            f"the registry {host} accepted the credentials of {which} ({login.detail} auth)"
        )
    if login.verdict == "anonymous":
        return passed(
            f"the registry {host} answered"
            + (
                f" and asks for no credentials ({which} is not needed to log in)"
                if auth
                else " and lets anonymous clients in"
            )
        )
    if login.verdict == "refused":
        return failed(
            f"the registry {host} refused the credentials of {which} ({login.detail})",
            f"check {which}.username/password (or dockerConfigJson) for {host}; "
            "`docker login` with them shows the registry's own message",
        )
    if login.verdict == "wanted":
        return failed(
            f"the registry {host} asks for credentials ({login.detail}) and {which} gives none",
            f"set {which}: {{username, password}} (or dockerConfigJson) for {host}",
        )
    return warned(
        f"the registry {host} answered in an unexpected way ({login.detail})",
        f"check that {host} is a Docker registry (API v2: GET /v2/)",
    )


DOCKER_PROXY_DROP_IN = "/etc/systemd/system/docker.service.d/http-proxy.conf"


def check_docker_proxy(p: Probe) -> Verdict:
    """airbox goes through a proxy; the daemon's pulls are the daemon's business, and a
    daemon without one cannot pull the node and data plane images."""
    from airbox.config.settings import without_password

    ours = {
        name: p.environ.get(name) or p.environ.get(name.lower()) or ""
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")
    }
    if not (ours["HTTPS_PROXY"] or ours["HTTP_PROXY"]):
        return skipped("not needed: airbox uses no proxy")
    bundled = _from_bundle(p, "every image comes")
    if bundled is not None:
        return bundled
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(no_docker(docker))
    if docker.https_proxy or docker.http_proxy:
        shown = without_password(docker.https_proxy or docker.http_proxy)
        return passed(f"the Docker daemon pulls through the proxy {shown}")
    proxy = ours["HTTPS_PROXY"] or ours["HTTP_PROXY"]
    shown = without_password(proxy)
    if shown != proxy:  # the password stays out: the user types it in the file
        scheme, _, rest = shown.partition("://")
        user, _, host = rest.rpartition("@")
        shown = f"{scheme}://{user}:PASSWORD@{host}"
    finding = (
        f"airbox goes through the proxy {without_password(proxy)}, but the Docker "
        "daemon has no proxy: its image pulls (the kind node image, the data plane's "
        "images) go direct and fail where only the proxy reaches the internet"
    )
    if docker.desktop:
        return warned(
            finding,
            "set the proxy in Docker Desktop > Settings > Resources > "
            "Proxies, then run airbox again",
        )
    environment = (
        f'Environment="HTTPS_PROXY={shown}" "HTTP_PROXY={shown}" "NO_PROXY=localhost,127.0.0.1"'
    )
    return warned(
        finding,
        f"give the daemon the proxy: write {DOCKER_PROXY_DROP_IN} with "
        f"the two lines `[Service]` and `{environment}`"
        + (" (PASSWORD: the proxy's password)" if "PASSWORD@" in shown else "")
        + ", then `sudo systemctl daemon-reload && sudo systemctl restart docker` "
        "(running containers stop; kind nodes come back). Not needed when "
        "every image comes from a registry inside the network or a bundle",
    )


def clock_skew(answer: HttpAnswer) -> tuple[float, float] | None:
    """(skew, uncertainty) in seconds, positive when this machine is ahead; None if no Date."""
    if answer.status is None or not answer.date:
        return None
    try:
        server = email.utils.parsedate_to_datetime(answer.date).timestamp()
    except (TypeError, ValueError):
        return None
    # The Date header is truncated to the second: the server's time was in
    # [date, date + 1). The request took (received - sent); the server stamped it
    # somewhere in between.
    local = (answer.sent + answer.received) / 2
    uncertainty = (answer.received - answer.sent) / 2 + 0.5
    return local - (server + 0.5), uncertainty


def check_clock(p: Probe) -> Verdict:
    answer = p.http(p.subject.control_plane_url)
    measured = clock_skew(answer)
    if measured is None:
        if answer.status is None:
            # Nothing answered: "no Date header" would blame the control plane's answer.
            return skipped(
                f"not checked: the control plane at {answer.host} could not be "
                "reached (see Control plane reachable)"
            )
        return skipped(f"not checked: no Date header from the control plane at {answer.host}")
    return clock_verdict(*measured)


def clock_verdict(skew: float, uncertainty: float) -> Verdict:
    """Only skew beyond the measuring uncertainty counts against the thresholds."""
    beyond = max(0.0, abs(skew) - uncertainty)
    direction = "ahead of" if skew > 0 else "behind"
    text = f"this machine's clock is {abs(skew):.0f}s {direction} the control plane's"
    fix = (
        "synchronise the clock: sudo timedatectl set-ntp true (or enable chronyd / "
        "systemd-timesyncd), then check with timedatectl"
    )
    if beyond > SKEW_FAIL:
        return failed(
            f"{text}; tokens and AWS request signatures are rejected beyond {SKEW_FAIL:.0f}s", fix
        )
    if beyond > SKEW_WARN:
        return warned(f"{text}; keep it within {SKEW_WARN:.0f}s", fix)
    return passed(f"{text} (within {SKEW_WARN:.0f}s)")


def imds_fix(instance_id: str | None) -> str:
    return (
        "aws ec2 modify-instance-metadata-options --instance-id "
        f"{instance_id or '<instance-id>'} --http-put-response-hop-limit {POD_HOPS} "
        "--http-endpoint enabled"
    )


def check_imds_hop_limit(p: Probe) -> Verdict:
    """Instance-profile credentials reach pods in kind only if IMDSv2 answers that far."""
    if not p.subject.instance_profile:
        return skipped("no instance-profile authentication is configured")
    found = p.imds()
    if found is None:
        ec2 = looks_like_ec2(p.environ)
        if ec2 is not None:
            # Disabled, or too slow to answer: either way pods would get no credentials.
            return warned(
                f"could not check: this machine looks like an EC2 instance ({ec2}),"
                " but its instance metadata service did not answer; the instance "
                "profile's credentials come from it",
                imds_fix(None),
            )
        # Nothing answers and nothing says EC2: the setting cannot work on this machine,
        # so the install must not go on as if it could.
        return failed(
            "not on AWS: no instance metadata service answered, and the instance "
            "profile (authenticationType: instanceProfile) gets its credentials "
            "only from one, on EC2",
            "run airbox on the EC2 instance the IAM role is attached to, or sign in "
            "with an IAM user's access keys: authenticationType: credentials with "
            "accessKeyId and secretAccessKey",
        )
    hops = (
        f"pods in the kind cluster are {POD_HOPS} network hops from the instance metadata service"
    )
    if found.hop_limit is None:
        return warned(
            f"could not read the IMDSv2 hop limit: {found.why}; {hops}, and with a "
            f"limit below {POD_HOPS} they get no credentials",
            imds_fix(found.instance_id),
        )
    if found.hop_limit < POD_HOPS:
        return failed(
            f"the IMDSv2 hop limit of {found.instance_id} is {found.hop_limit}; "
            f"{hops}, so the data plane would get no instance-profile credentials",
            imds_fix(found.instance_id),
        )
    return passed(
        f"the IMDSv2 hop limit of {found.instance_id} is {found.hop_limit} "
        f"(at least {POD_HOPS}: pods in kind reach the metadata service)"
    )
