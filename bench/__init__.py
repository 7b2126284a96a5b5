"""Benchmarks: scripts run by hand against real processes (not part of the test suite)."""
