"""Helpers for tests that run the real processes (used by the end-to-end and fault tests)."""
