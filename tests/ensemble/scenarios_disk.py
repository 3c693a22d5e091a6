"""Scenarios: storage faults (placeholder)."""
