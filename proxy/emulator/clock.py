"""Timestamps as v2 writes them: ISO-8601 UTC, whole seconds, a literal Z."""

from datetime import UTC, datetime


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
