"""Steps that talk to the control plane or check the machine: preflight, the credentials,
the workspaces named, registration and routing. Each calls its collaborator
directly (preflight, registration, workspaces) and stores what it returns."""

from __future__ import annotations

import dataclasses

from airbox.ops.install.context import Context
from airbox.ops.pipeline import Step
from airbox.ui import StepLine


class Preflight(Step[Context]):
    name = "preflight"
    title = "Check the machine"

    def run(self, ctx: Context, line: StepLine) -> None:
        if ctx.options.preflight:
            from airbox.ops.preflight.command import install_check

            install_check(
                ctx.settings,
                ctx.state,
                ctx.term,
                line,
                ignore_failures=ctx.options.ignore_preflight_failures,
                assume_yes=ctx.options.assume_yes,
                prompter=ctx.prompter,
                early=ctx.early_preflight,
            )
            return
        if ctx.settings.target.is_kind:
            ctx.docker.version()
        line.update("Docker is reachable")


class CheckCredentials(Step[Context]):
    """Before anything is built: the control plane accepts the data plane's credentials.

    On a terminal the interview checked them as they were typed (and asked again); here
    the unattended run (--yes, no terminal) exits 4 instead of failing at its last step.
    """

    name = "check-credentials"
    title = "Check the data plane's credentials with the control plane"

    def applies(self, ctx: Context) -> bool:
        return ctx.settings.data_plane is not None and (
            not ctx.options.interactive or ctx.options.recheck_credentials
        )

    def commands(self, ctx: Context) -> list[list[str]]:
        return [["http", "POST", f"{ctx.settings.control_plane.url}/api/v1/dataplanes/token"]]

    def run(self, ctx: Context, line: StepLine) -> None:
        from airbox.controlplane.credentials import require_data_plane

        credentials = ctx.settings.data_plane
        assert credentials is not None
        found = require_data_plane(
            ctx.settings.control_plane.url, credentials.client_id, credentials.client_secret
        )
        line.update(found)
        if found.startswith("not checked"):
            # Still no answer: go on (preflight reported the control plane), but say so.
            line.warn(found)


class CheckWorkspaces(Step[Context]):
    """Before anything is built: the workspaces named exist (a typo is exit 2, no change).

    Only reads; the routing itself is the last step, once the data plane runs.
    """

    name = "check-workspaces"
    title = "Check the workspaces to route"

    def applies(self, ctx: Context) -> bool:
        return bool(ctx.settings.workspaces) and ctx.settings.registration is not None

    def commands(self, ctx: Context) -> list[list[str]]:
        return [
            ["http", "GET", f"{ctx.settings.control_plane.api_url}/workspaces?limit=100&offset=0"]
        ]

    def run(self, ctx: Context, line: StepLine) -> None:
        from airbox.ops.workspaces import install_check

        install_check(
            ctx.settings,
            ctx.state,
            line,
            interactive=ctx.options.interactive and ctx.prompter is not None,
            force=ctx.options.force_route,
        )


class Register(Step[Context]):
    name = "register"
    title = "Register the data plane with the control plane"

    def applies(self, ctx: Context) -> bool:
        # A run shows the step even when it has nothing to do (it says why); the plan
        # lists it only when it will register.
        return ctx.registering or not ctx.options.dry_run

    def commands(self, ctx: Context) -> list[list[str]]:
        api = ctx.settings.control_plane.api_url
        return [
            ["http", "POST", f"{api}/applications/token"],
            ["http", "GET", f"{api}/organizations"],
            ["http", "GET", f"{api}/regions?organizationId=<organization>"],
            ["http", "POST", f"{api}/regions", "(only if the region does not exist)"],
            ["http", "GET", f"{api}/dataplanes?regionIds=<region>"],
            ["http", "POST", f"{api}/dataplanes", "(only if not registered yet)"],
        ]

    def run(self, ctx: Context, line: StepLine) -> None:
        """After it, ``ctx.settings.data_plane`` is set: registered (once), or given."""
        from airbox.controlplane import registration

        settings = ctx.settings
        if settings.registration is None or settings.data_plane is not None:
            line.skip("not needed: the data plane's own credentials are given")
            return
        prompter = ctx.prompter if ctx.options.interactive else None
        with registration.api_for(settings, ctx.state) as api:
            record = registration.ensure_registered(
                settings,
                ctx.state,
                api,
                say=line.update,
                warn=ctx.term.warn,
                prompter=prompter,
                paused=line.paused,
            )
        ctx.settings = dataclasses.replace(
            settings, data_plane=registration.record_credentials(record)
        )


class Route(Step[Context]):
    name = "route"
    title = "Route workspaces to the data plane's region"

    def commands(self, ctx: Context) -> list[list[str]]:
        if ctx.settings.registration is None:
            return []
        api = ctx.settings.control_plane.api_url
        return [
            ["http", "GET", f"{api}/workspaces?limit=100&offset=0"],
            *(
                [
                    "http",
                    "PATCH",
                    f"{api}/workspaces/<{w}>",
                    '{"regionId": "<region>"}',
                    "(only if not routed yet)",
                ]
                for w in ctx.settings.workspaces
            ),
        ]

    def run(self, ctx: Context, line: StepLine) -> None:
        from airbox.ops.workspaces import install_route

        interactive = ctx.options.interactive and ctx.prompter is not None
        ctx.routing = install_route(
            ctx.settings,
            ctx.state,
            line,
            prompter=ctx.prompter if interactive else None,
            force=ctx.options.force_route,
        )
