"""Names the generated objects share: kept apart so every render module can use them
without importing ``manifests`` (which imports them: no circle)."""

from __future__ import annotations

# The Secret airbox generates: every credential the chart's pods and job pods read.
SECRET_NAME = "airbyte-config-secrets"
# On every object airbox applies itself (not through Helm).
MANAGED_BY_LABEL = {"app.kubernetes.io/managed-by": "airbox"}
# The local object store (MinIO) airbox runs in the kind cluster when no storage is
# configured: its Service and Deployment name.
LOCAL_STORE = "airbox-minio"
