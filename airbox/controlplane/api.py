"""The Airbyte public API calls airbox makes, with the errors a user can act on.

Facts these calls rely on (Airbyte's published API spec, and what its server does): lists
come back as a bare JSON array or as ``{"data": [...]}``; ``POST /regions`` and ``POST
/dataplanes`` are never retried, because a lost answer does not mean nothing was created
(registration recovers from that); a data plane's client secret is shown only in the
answer that creates it. The token, retries, time bounds and paging are ``transport``'s;
the wording of errors is ``api_errors``'s.

httpx is imported here only (through ``transport``); ``airbox --help`` never imports this
module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airbox import runlog
from airbox.controlplane.api_errors import DETAIL_LIMIT

# The client's options, imported with it by its many callers.
from airbox.controlplane.limits import NO_RETRY as NO_RETRY
from airbox.controlplane.limits import Retry as Retry
from airbox.controlplane.limits import Timeouts as Timeouts
from airbox.controlplane.transport import Transport
from airbox.errors import ControlPlaneError
from airbox.redact import REDACTOR
from airbox.shown import shown


class AirbyteApi(Transport):
    """A client of the Airbyte public API for one application (client id/secret): the
    calls airbox makes. How they travel (token, retries, bounds) is ``Transport``'s."""

    # --------------------------------------------------------------------- calls

    def organizations(self) -> list[dict[str, Any]]:
        """``[{organizationId, organizationName, email}]`` the application can see."""
        return self._get_list("/organizations", what="listing the organizations")

    def regions(self, organization_id: str) -> list[dict[str, Any]]:
        """Every region the organization sees, Airbyte-managed ones included."""
        return self._get_list(
            "/regions", params={"organizationId": organization_id}, what="listing the regions"
        )

    def create_region(self, name: str, organization_id: str) -> dict[str, Any]:
        return self._object(
            "POST",
            "/regions",
            json={"name": name, "organizationId": organization_id},
            idempotent=False,
            what=f"creating the region {name}",
            require=("regionId",),
        )

    def dataplanes(self, region_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        params = {"regionIds": list(region_ids)} if region_ids else None
        return self._get_list("/dataplanes", params=params, what="listing the data planes")

    def create_dataplane(self, name: str, region_id: str) -> dict[str, Any]:
        """``{dataplaneId, regionId, clientId, clientSecret}``; the secret is shown only here."""
        answer = self._object(
            "POST",
            "/dataplanes",
            json={"name": name, "regionId": region_id},
            idempotent=False,
            what=f"registering the data plane {name}",
            require=("dataplaneId", "clientId", "clientSecret"),
        )
        REDACTOR.add(str(answer["clientId"]), str(answer["clientSecret"]))
        return answer

    def get_dataplane(self, dataplane_id: str) -> dict[str, Any]:
        return self._object(
            "GET",
            f"/dataplanes/{dataplane_id}",
            what=f"reading the data plane {dataplane_id}",
            require=("dataplaneId",),
        )

    def delete_dataplane(self, dataplane_id: str) -> None:
        self._call(
            "DELETE",
            f"/dataplanes/{dataplane_id}",
            what=f"deleting the data plane {dataplane_id}",
            allow_empty=True,
        )

    # ------------------------------------------------------------- workspaces

    def workspaces(self, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every workspace the application can see: ``[{workspaceId, name, dataResidency}]``.

        Paginated (``limit``/``offset``, at most 100 a page): pages are read until one comes
        back short. ``dataResidency`` is the workspace's region name, lower-cased.
        """
        return self._pages("/workspaces", {}, what="listing the workspaces", page_size=page_size)

    def get_workspace(self, workspace_id: str) -> dict[str, Any]:
        return self._object(
            "GET",
            f"/workspaces/{workspace_id}",
            what=f"reading the workspace {workspace_id}",
            require=("workspaceId",),
        )

    def route_workspace(self, workspace_id: str, region_id: str) -> dict[str, Any]:
        """Point a workspace at a region (``PATCH /workspaces/{id} {regionId}``).

        Setting a field to the value it has is harmless, so a retry is safe.
        """
        return self._object(
            "PATCH",
            f"/workspaces/{workspace_id}",
            json={"regionId": region_id},
            idempotent=True,
            what=f"routing the workspace {workspace_id} to region {region_id}",
            require=("workspaceId",),
        )

    def create_workspace(
        self, name: str, organization_id: str, region_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "organizationId": organization_id}
        if region_id:
            body["regionId"] = region_id
        return self._object(
            "POST",
            "/workspaces",
            json=body,
            idempotent=False,
            what=f"creating the workspace {name}",
            require=("workspaceId",),
        )

    # ------------------------------------------------ connectors, connections, jobs

    def definitions(self, workspace_id: str, kind: str) -> list[dict[str, Any]]:
        """The connector definitions (``kind``: sources | destinations) of a workspace:
        ``[{id, name, dockerRepository, dockerImageTag}]``."""
        return self._get_list(
            f"/workspaces/{workspace_id}/definitions/{kind}",
            what=f"listing the {kind[:-1]} connectors",
        )

    def create_actor(self, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a source or destination (``kind``: sources | destinations)."""
        key = "sourceId" if kind == "sources" else "destinationId"
        return self._object(
            "POST",
            f"/{kind}",
            json=dict(body),
            idempotent=False,
            what=f"creating the {kind[:-1]} {body.get('name')}",
            require=(key,),
        )

    def list_actors(self, kind: str, workspace_id: str) -> list[dict[str, Any]]:
        """Sources, destinations or connections (``kind``) of one workspace, every page."""
        return self._pages(f"/{kind}", {"workspaceIds": [workspace_id]}, what=f"listing the {kind}")

    def delete_actor(self, kind: str, actor_id: str) -> bool:
        """Delete a source, destination or connection; False when it was already gone."""
        try:
            self._call(
                "DELETE",
                f"/{kind}/{actor_id}",
                what=f"deleting the {kind[:-1]} {actor_id}",
                allow_empty=True,
            )
        except ControlPlaneError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def create_connection(
        self, body: Mapping[str, Any], *, read_timeout: float | None = None
    ) -> dict[str, Any]:
        """``POST /connections``. The server discovers the source's schema before it
        answers (a job on the workspace's data plane: minutes when the connector's image
        is pulled first), so the caller may wait ``read_timeout`` s instead of the usual."""
        return self._object(
            "POST",
            "/connections",
            json=dict(body),
            idempotent=False,
            what=f"creating the connection {body.get('name')}",
            require=("connectionId",),
            read_timeout=read_timeout,
        )

    def start_job(self, connection_id: str, job_type: str = "sync") -> dict[str, Any]:
        return self._object(
            "POST",
            "/jobs",
            json={"connectionId": connection_id, "jobType": job_type},
            idempotent=False,
            what=f"starting a {job_type} of {connection_id}",
            require=("jobId",),
        )

    def get_job(self, job_id: int | str) -> dict[str, Any]:
        # Polled for as long as the caller's own timeout for the job (verify's --timeout):
        # each poll is bounded by Timeouts.total, and none counts against reads_within.
        return self._object(
            "GET",
            f"/jobs/{job_id}",
            what=f"reading the job {job_id}",
            require=("jobId",),
            read=False,
        )

    def cancel_job(self, job_id: int | str) -> dict[str, Any] | None:
        answer = self._call(
            "DELETE", f"/jobs/{job_id}", what=f"cancelling the job {job_id}", allow_empty=True
        )
        return answer if isinstance(answer, dict) else None

    def job_failure(self, airbyte_url: str, job_id: int | str) -> str | None:
        """Why a job failed, from its last attempt's failure summary, or None.

        The public job answer carries no reason; the internal ``POST <airbyteUrl>/api/v1/
        jobs/get {"id"}`` does (``attempts[].attempt.failureSummary.failures[]``). An
        application token may not be allowed to call it: best effort, never an error.
        """
        url = airbyte_url.rstrip("/") + "/api/v1/jobs/get"
        try:
            answer = self._call(
                "POST",
                url,
                json={"id": int(job_id)},
                what=f"reading why job {job_id} failed",
                retries=NO_RETRY,
                read=True,
            )
            attempts = answer.get("attempts") if isinstance(answer, dict) else None
            for entry in reversed(attempts or []):
                summary = ((entry or {}).get("attempt") or {}).get("failureSummary") or {}
                for failure in summary.get("failures") or []:
                    text = failure.get("externalMessage") or failure.get("internalMessage")
                    if text:
                        origin = failure.get("failureOrigin")
                        return REDACTOR.mask_all(
                            shown(f"{origin}: {text}" if origin else text, DETAIL_LIMIT)
                        )
        except Exception as exc:  # best effort: an unknown reason, not a second failure
            runlog.logger().debug("job failure reason unavailable: %s", exc)
        return None

    def dataplane_health(
        self, airbyte_url: str, organization_id: str
    ) -> list[dict[str, Any]] | None:
        """Heartbeat-based health of the organization's data planes, or None.

        Internal API (``POST <airbyteUrl>/api/v1/dataplanes/health``) that an application
        token may not be allowed to call: any failure means "unknown", never an error.
        """
        url = airbyte_url.rstrip("/") + "/api/v1/dataplanes/health"
        try:
            answer = self._call(
                "POST",
                url,
                json={"organizationId": organization_id},
                what="reading the data plane health",
                retries=NO_RETRY,
                read=True,
            )
        except ControlPlaneError as exc:
            runlog.logger().debug("data plane health unavailable: %s", exc.message)
            return None
        except Exception as exc:
            # Best effort means a malformed URL or an odd answer is "unknown" too.
            runlog.logger().debug("data plane health unavailable: %s", type(exc).__name__)
            return None
        if isinstance(answer, dict):
            # The internal response wraps its list; take whichever key holds it.
            answer = next((v for v in answer.values() if isinstance(v, list)), None)
        if not isinstance(answer, list):
            return None
        return [item for item in answer if isinstance(item, dict)]
