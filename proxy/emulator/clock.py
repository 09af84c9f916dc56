"""Timestamps as v2 writes them: ISO-8601 UTC, whole seconds, a literal Z.

Other modules call `clock.utc_now()` through this module, so a test can move time by
replacing this one function.
"""

from datetime import UTC, datetime


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def today() -> str:
    """The UTC date: what a record closed now gets as closedOn."""
    return utc_now()[:10]
