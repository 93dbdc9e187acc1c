"""Example answers files and the answers-file JSON Schema, shipped as package data."""
