"""airbox: one machine with Docker becomes a registered, healthy Airbyte data plane."""

__version__ = "0.1.0"
