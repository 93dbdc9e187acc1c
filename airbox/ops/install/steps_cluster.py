"""Steps that build the kind cluster: write the files, pull and load the images, create
the cluster, keep its node running, pre-pull the connectors."""

from __future__ import annotations

import threading
import time

from airbox import runlog, versions
from airbox.cluster import commands
from airbox.cluster.dockerhost import NODE_RESTART_POLICY, DockerHost, host_uses_cgroup_v1
from airbox.config.settings import Images
from airbox.errors import ClusterError, ToolError
from airbox.fsutil import SECRET_FILE, ensure_state_subdir
from airbox.ops.install.context import Context
from airbox.ops.install.generate import docker_cgroup_v1, write_generated
from airbox.ops.install.pulls import PINNED, Pulls, has_pinned, node_pull, pulls_node
from airbox.ops.pipeline import Step
from airbox.render.registry import from_registry, registry_auth
from airbox.ui import StepLine


class WriteManifests(Step[Context]):
    name = "manifests"
    title = "Generate the Secret, Helm values and cluster config"

    def commands(self, ctx: Context) -> list[list[str]]:
        return []

    def run(self, ctx: Context, line: StepLine) -> None:
        write_generated(
            ctx.settings, ctx.files, dry_run=False, cgroup_v1=docker_cgroup_v1(ctx), state=ctx.state
        )
        if ctx.settings.runs_local_store:
            # Before kind mounts it: a directory Docker creates for a mount is root's.
            ensure_state_subdir(ctx.state.storage_data)
        line.update(f"written to {ctx.files.directory}")


def preloads(ctx: Context) -> bool:
    """The images go into the kind node from the host (pulled, or from the bundle: with
    no registry, the node cannot pull them itself)."""
    return ctx.settings.target.is_kind and (ctx.options.preload_images or ctx.bundle is not None)


def _node_cgroup_v1(ctx: Context) -> bool:
    # A dry run contacts no Docker (as plan_dry_run writes the kind config).
    return host_uses_cgroup_v1() if ctx.options.dry_run else docker_cgroup_v1(ctx)


class PullImages(Step[Context]):
    """Starts the pulls in the background; ``LoadImages`` waits for them (``Cluster`` for
    the node image's, from a private registry). With an offline bundle: loads its images
    into Docker, unpacks its chart and places its tools."""

    name = "images"
    title = "Pull the data plane images (in the background)"

    def applies(self, ctx: Context) -> bool:
        return preloads(ctx) or pulls_node(ctx.settings)

    def _node(self, ctx: Context) -> tuple[str, str] | None:
        return node_pull(ctx.settings, _node_cgroup_v1(ctx)) if pulls_node(ctx.settings) else None

    def _wanted(self, ctx: Context) -> list[str]:
        return ctx.images() if preloads(ctx) else []

    def describe(self, ctx: Context) -> str:
        if ctx.bundle is not None:
            return "Load the images, chart and tools from the offline bundle"
        return self.title

    def commands(self, ctx: Context) -> list[list[str]]:
        argv: list[list[str]] = []
        if ctx.bundle is not None:
            from airbox.offline.manifest import local_name
            from airbox.ops.bundled import unpack_dir

            # Read from the file as a stream by airbox, with the Docker API for images.
            bundle = str(ctx.settings.bundle)
            for item in ctx.bundle.items:
                if item.kind in ("chart", "binary"):
                    argv.append(["tar", "-xf", bundle, item.path, "-C", str(unpack_dir(ctx.state))])
                else:
                    argv.append(
                        [
                            "docker",
                            "load",
                            "--input",
                            f"{bundle}:{item.path}",
                            f"(unless Docker has {local_name(item.name)})",
                        ]
                    )
            return argv
        node = self._node(ctx)
        if node is not None:
            argv += [["docker", "pull", node[0]], ["docker", "tag", node[0], node[1]]]
        for image in self._wanted(ctx):
            pinned = PINNED.get(image)
            if pinned:
                argv += [["docker", "pull", pinned], ["docker", "tag", pinned, image]]
            else:
                argv.append(["docker", "pull", image])
        return argv

    def done(self, ctx: Context) -> str | None:
        if ctx.bundle is not None:
            from airbox.ops.bundled import unpacked

            return unpacked(ctx.settings, ctx.bundle, ctx.state, ctx.docker)
        node = self._node(ctx)
        if node is not None and not has_pinned(ctx.docker, node[1], node[0]):
            return None
        missing = [image for image in self._wanted(ctx) if not ctx.docker.has_image(image)]
        return None if missing else "already present"

    def run(self, ctx: Context, line: StepLine) -> None:
        docker = ctx.docker
        if ctx.bundle is not None:
            from airbox.ops.bundled import unpack

            def warn(text: str) -> None:
                with line.paused():
                    ctx.term.warn(text)

            line.update(
                ", ".join(unpack(ctx.settings, ctx.bundle, ctx.state, docker, line.update, warn))
            )
            return
        images = [image for image in self._wanted(ctx) if not docker.has_image(image)]
        pinned = dict(PINNED)
        node = self._node(ctx)
        if node is not None and not has_pinned(docker, node[1], node[0]):
            # First: the cluster step waits for this one.
            images.insert(0, node[1])
            pinned[node[1]] = node[0]
        ctx.pulls = Pulls(docker, images, registry=ctx.settings.images, pinned=pinned)
        line.update(f"pulling {len(images)} image(s) while the cluster is created")


class Cluster(Step[Context]):
    name = "cluster"
    title = "Create the kind cluster"

    def applies(self, ctx: Context) -> bool:
        return ctx.settings.target.is_kind

    def describe(self, ctx: Context) -> str:
        return f"Create the kind cluster {ctx.settings.cluster_name}"

    def commands(self, ctx: Context) -> list[list[str]]:
        return [commands.kind_create(ctx.settings, ctx.files.kind_config, ctx.state.kubeconfig)]

    def _exists(self, ctx: Context) -> bool:
        result = ctx.runner.run(commands.kind_get_clusters(), timeout=30)
        return ctx.settings.cluster_name in result.stdout.split()

    def run(self, ctx: Context, line: StepLine) -> None:
        settings = ctx.settings
        if self._exists(ctx):
            node = ctx.docker.container(settings.node_container)
            if node.status == "missing":
                # kind knows the cluster, Docker no node: the API check below decides.
                runlog.logger().warning("node container %s not found", settings.node_container)
            elif node.status != "running":
                line.update(f"starting the stopped node container {settings.node_container}")
                ctx.docker.start(settings.node_container)
            if not ctx.state.kubeconfig.is_file():
                ctx.runner.run(commands.kind_export_kubeconfig(settings, ctx.state.kubeconfig))
            wait_for_api(ctx, line)
            line.skip("exists, reused")
            return
        if ctx.pulls is not None and pulls_node(settings):
            # kind must find the node image (pulled from the registry) in Docker.
            line.update("waiting for the node image's pull")
            ctx.pulls.wait(line, only=node_pull(settings, docker_cgroup_v1(ctx))[1])
        line.update("creating the node (the first time takes a few minutes)")
        try:
            ctx.runner.run(
                commands.kind_create(settings, ctx.files.kind_config, ctx.state.kubeconfig),
                timeout=600,
                on_line=lambda text: line.update(text.strip(" •✓✗")) if text.strip() else None,
                error=f"creating the kind cluster {settings.cluster_name} failed",
                hint="see the kind output above; common causes are too little memory, "
                "inotify limits (run `airbox preflight`) and Docker subnet clashes",
            )
        except (ToolError, KeyboardInterrupt):
            # Like kind itself: never leave a half-built cluster behind.
            ctx.runner.run(
                commands.kind_delete(settings, ctx.state.kubeconfig), check=False, timeout=120
            )
            raise
        ctx.state.kubeconfig.chmod(SECRET_FILE)


class NodeRestartPolicy(Step[Context]):
    """The node container comes back after a reboot or a Docker restart.

    kind starts it with ``on-failure:1``; ``unless-stopped`` (set through the Docker SDK)
    lives with the container wherever Docker runs, needs no root-owned unit file, and
    still respects a deliberate ``docker stop``.
    """

    name = "node-restart"
    title = "Keep the node running across reboots"

    def applies(self, ctx: Context) -> bool:
        return ctx.settings.target.is_kind

    def commands(self, ctx: Context) -> list[list[str]]:
        return [["docker", "update", "--restart", NODE_RESTART_POLICY, ctx.settings.node_container]]

    def done(self, ctx: Context) -> str | None:
        node = ctx.docker.container(ctx.settings.node_container)
        if node.status == "missing":
            # kind said the cluster exists, Docker has no node: nothing to keep running.
            raise ClusterError(
                f"the kind cluster {ctx.settings.cluster_name} has no node container "
                f"({ctx.settings.node_container} does not exist in Docker)",
                hint="the cluster cannot run without it: `airbox uninstall --keep-state`, "
                "then `airbox install` again",
            )
        return f"restart policy already {node.restart_policy}" if node.comes_back else None

    def run(self, ctx: Context, line: StepLine) -> None:
        ctx.docker.set_restart_policy(ctx.settings.node_container)
        line.update(f"{ctx.settings.node_container}: restart policy {NODE_RESTART_POLICY}")


def wait_for_api(ctx: Context, line: StepLine, timeout: float = 120) -> None:
    """Poll the API server with backoff until it answers (after a node restart)."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        result = ctx.runner.run(
            ctx.kube.kubectl("get", "--raw", "/readyz"), check=False, timeout=15
        )
        if result.ok:
            return
        if time.monotonic() > deadline:
            raise ClusterError(
                f"the Kubernetes API of {ctx.settings.cluster_name} did not become ready",
                details=[result.stderr.strip()[-300:]],
                hint="check the node container with `docker logs "
                f"{ctx.settings.node_container}`; `airbox status` explains more",
            )
        line.update("waiting for the Kubernetes API")
        time.sleep(delay)
        delay = min(delay * 2, 5)


class ConnectorImages(Step[Context]):
    """Start pulling verify's connectors inside the node, and go on at once.

    The first ``airbox verify`` otherwise waits for them: creating its connection makes
    the control plane run a discover in this data plane, whose pod pulls source-faker
    first (minutes on a slow line). The pulls run in the node's containerd (``docker
    exec -d <node> crictl pull``), in parallel with the rest of the install and after
    it; nothing waits for them and nothing fails because of them. The tags are the
    workspace's definitions' when the application's credentials can read them quickly,
    else the ones airbox pins (``versions.VERIFY_CONNECTORS``).
    """

    name = "connector-images"
    title = "Pre-pull verify's connector images in the node (in the background)"

    def applies(self, ctx: Context) -> bool:
        return preloads(ctx)

    def describe(self, ctx: Context) -> str:
        if ctx.bundle is not None:
            return "Load the bundle's connector images into the node"
        return self.title

    def _bundled(self, ctx: Context) -> list[str]:
        from airbox.offline.manifest import local_name

        assert ctx.bundle is not None
        return [local_name(ref) for ref in ctx.bundle.images("connector")]

    def commands(self, ctx: Context) -> list[list[str]]:
        if ctx.bundle is not None:
            refs = self._bundled(ctx)
            return [commands.kind_load(ctx.settings, refs)] if refs else []
        images = ctx.settings.images
        refs = [
            connector_ref(repository, tag, images)
            for repository, tag in versions.VERIFY_CONNECTORS.items()
        ]
        if images is not None and images.has_credentials:
            return [
                *(["docker", "pull", ref] for ref in refs),
                commands.kind_load(ctx.settings, refs),
            ]
        return [
            ["docker", "exec", "-d", ctx.settings.node_container, "crictl", "pull", ref]
            for ref in refs
        ]

    def run(self, ctx: Context, line: StepLine) -> None:
        if ctx.bundle is not None:
            # Offline, no sync can pull its connector: they go in now, from Docker (kind
            # skips those the node has).
            from airbox.ops.bundled import load_into_node

            refs = self._bundled(ctx)
            load_into_node(ctx.runner, ctx.settings, refs)
            line.update(", ".join(refs) if refs else "the bundle carries no connector")
            return
        # A daemon thread: the definitions lookup may take a few seconds, and the install
        # must not wait for it (nor for the pulls, which run in the node).
        threading.Thread(target=prepull_connectors, args=(ctx,), daemon=True).start()
        line.update(
            "source-faker and destination-dev-null, pulled inside the node while "
            "the install goes on"
        )


def connector_ref(repository: str, tag: str, images: Images | None = None) -> str:
    """The reference the node's containerd pulls (and the launcher's pods name): from
    the private registry when one is set (the launcher's JOB_KUBE_CONNECTOR_IMAGE_REGISTRY
    puts it in front of the definition's repository)."""
    if images is not None:
        return from_registry(images, f"{repository}:{tag}")
    return f"docker.io/{repository}:{tag}"


def connector_tags(ctx: Context) -> dict[str, str]:
    """verify's connectors and their tags: the workspace's definitions' (asked with short
    timeouts, never retried) when the application's credentials are at hand, else the
    pinned ones."""
    tags = dict(versions.VERIFY_CONNECTORS)
    reg = ctx.settings.registration
    if reg is None:
        return tags
    from airbox.controlplane.api import NO_RETRY, AirbyteApi, Timeouts

    try:
        with AirbyteApi(
            ctx.settings.control_plane.api_url,
            reg.client_id,
            reg.client_secret,
            token_cache=ctx.state.token,
            timeout=Timeouts(connect=3.0, read=5.0),
            retries=NO_RETRY,
        ) as api:
            visible = api.workspaces()
            wanted = [
                w
                for w in visible
                if w.get("name") in ctx.settings.workspaces
                or w.get("workspaceId") in ctx.settings.workspaces
            ] or visible
            if not wanted:
                return tags
            workspace_id = str(wanted[0].get("workspaceId"))
            for kind in ("sources", "destinations"):
                for definition in api.definitions(workspace_id, kind):
                    repository = definition.get("dockerRepository")
                    tag = definition.get("dockerImageTag")
                    if repository in tags and isinstance(tag, str) and tag:
                        tags[str(repository)] = tag
    except Exception as exc:  # best effort: the pinned tags serve as well
        runlog.logger().info(
            "connector tags from the definitions unavailable (%s): using airbox's pinned ones", exc
        )
    return tags


def prepull_connectors(ctx: Context) -> None:
    """Start the pulls (``docker exec -d``); never raises: at worst verify pulls later."""
    log = runlog.logger()
    images = ctx.settings.images
    try:
        docker = DockerHost.connect()
        for repository, tag in connector_tags(ctx).items():
            ref = connector_ref(repository, tag, images)
            if images is not None and images.has_credentials:
                # The node's containerd has no credentials of its own (pods pull with the
                # pull Secret), and crictl takes them only in its argv: the host's Docker
                # pulls with them (in the API call), then kind loads the image in.
                docker.pull(ref, auth=registry_auth(images))
                ctx.runner.run(
                    commands.kind_load(ctx.settings, [ref]),
                    timeout=900,
                    error=f"loading {ref} into the node failed",
                )
                log.info(
                    "pulled %s and loaded it into the node %s", ref, ctx.settings.node_container
                )
                continue
            docker.exec_detached(ctx.settings.node_container, ["crictl", "pull", ref])
            log.info("pulling %s inside the node %s", ref, ctx.settings.node_container)
    except Exception as exc:
        log.warning(
            "the connector images were not pre-pulled (%s): the first verify pulls them", exc
        )


class LoadImages(Step[Context]):
    name = "load-images"
    title = "Load the images into the cluster"

    def applies(self, ctx: Context) -> bool:
        return preloads(ctx)

    def commands(self, ctx: Context) -> list[list[str]]:
        return [commands.kind_load(ctx.settings, ctx.images())]

    def run(self, ctx: Context, line: StepLine) -> None:
        if ctx.pulls is not None:
            line.update("waiting for the image pulls to finish")
            ctx.pulls.wait(line)
        ctx.runner.run(
            commands.kind_load(ctx.settings, ctx.images()),
            timeout=900,
            error="loading the images into the kind node failed",
        )
