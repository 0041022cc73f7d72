"""Fakes of external services for tests (loopback only)."""
