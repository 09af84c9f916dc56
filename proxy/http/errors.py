"""v1 errors: what went wrong, as a status and one readable message (decision P6).

Upstream failures are mapped here, in one place:
422 → 400 (one message per field error); 400/401/403/404 → the same; 429 → 429 with Retry-After;
other statuses, 5xx and broken answers → 502; an upstream timeout → 504.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from ..translate.errors import UpstreamDataError
from ..upstream.client import UpstreamError, UpstreamTimeout, UpstreamUnavailable

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Capsule"'}
PASSED_THROUGH = (400, 401, 403, 404)


class V1Error(Exception):
    """Answered to the v1 client as an error document with this status."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None, *,
                 close: bool = False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.close = close   # the request's body was not read through: the connection cannot be reused


def _field_message(error: Mapping[str, Any]) -> str:
    field = str(error.get("field") or "").strip()
    message = str(error.get("message") or "is invalid").strip()
    return message if not field or field in message else f"{field}: {message}"


def from_upstream(exc: Exception, noun: str = "record", clock: Callable[[], float] = time.time) -> V1Error:
    """The v1 error for an upstream failure; `noun` names what a failed create was making."""
    maybe = (f"; the {noun} may have been created, so check before sending it again"
             if getattr(exc, "maybe_created", False) else "")
    if isinstance(exc, UpstreamTimeout):
        return V1Error(504, f"Capsule did not answer in time ({exc}){maybe}")
    if isinstance(exc, (UpstreamUnavailable, UpstreamDataError)):
        return V1Error(502, f"Capsule could not be reached or gave a broken answer ({exc}){maybe}")
    assert isinstance(exc, UpstreamError)
    if exc.status == 422:
        details = "; ".join(_field_message(e) for e in exc.errors)
        return V1Error(400, f"Capsule rejected the request: {details or exc.message}")
    if exc.status >= 500 and exc.maybe_created:
        return V1Error(502, f"Capsule answered {exc.status} to the create{maybe}")
    if exc.status in PASSED_THROUGH:
        return V1Error(exc.status, exc.message, BASIC_CHALLENGE if exc.status == 401 else None)
    if exc.status == 429:
        from ..upstream.resilience import RATE_LIMIT_WINDOW, seconds_until_reset

        headers = dict(exc.headers)
        now = clock()
        wait = seconds_until_reset(headers.get("X-RateLimit-Reset"), now)
        if wait is None:
            wait = 60  # no reset time given: a minute is a safe guess for an hourly limit
        elif wait >= RATE_LIMIT_WINDOW:  # held to Capsule's hour: pass on the reset as held
            headers["X-RateLimit-Reset"] = str(int(now + wait))
        headers["Retry-After"] = str(max(int(wait), 1))
        return V1Error(429, "the Capsule API rate limit is reached; retry after "
                            f"{headers['Retry-After']} seconds", headers)
    return V1Error(502, f"Capsule answered with status {exc.status}: {exc.message}")
