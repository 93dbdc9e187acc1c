"""Fake kind, helm and kubectl executables (and their pytest fixture) for airbox's tests."""
