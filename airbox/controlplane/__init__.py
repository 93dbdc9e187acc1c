"""Airbyte's control plane: the public API client and registering a data plane."""
