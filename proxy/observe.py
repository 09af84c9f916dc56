"""What each finished v1 request reports to the observers (metrics, access log, usage inventory).

The v1 middleware builds one `RequestRecord` per request and hands it to every observer on
`Services.observers`, in order. Observers are plain callables with no return value; they must be
cheap and must never raise (an observer's bug must not turn an answered request into a 500).
Like mitmproxy's addons: clear hooks, no hidden coupling.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("capsule_proxy")


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    client: str              # the peer address
    user_agent: str
    method: str
    route: str               # the v1 route template, e.g. "/api/task/{id}"; "unmatched" for 404s
    status: int
    duration: float          # seconds
    upstream_calls: int
    bytes_in: int
    bytes_out: int
    token: str | None        # the v1 client's token, for observers that hash it; never log it
    error: str | None = None  # the v1 error message, when the answer is an error
    pages: int = 0            # v2 list pages read for this request
    trace_id: str = ""        # the W3C trace this request belongs to (proxy/tracing.py)


Observer = Callable[[RequestRecord], None]


def notify(observers: list[Observer], record: RequestRecord) -> None:
    for observer in observers:
        try:
            observer(record)
        except Exception:  # pragma: no cover - a defect in an observer, reported once per call
            log.exception("request observer %r failed", observer)


# Per-request context the upstream client reads without being passed it: the request id to send
# upstream, and a one-item list counting the upstream calls this request made.
REQUEST_ID: ContextVar[str | None] = ContextVar("capsule_request_id", default=None)
# (traceparent, tracestate or None): the W3C trace context sent upstream with every call.
TRACE: ContextVar[tuple[str, str | None] | None] = ContextVar("capsule_trace", default=None)
UPSTREAM_CALLS: ContextVar[list[int] | None] = ContextVar("capsule_upstream_calls", default=None)


def count_upstream_call() -> None:
    counter = UPSTREAM_CALLS.get()
    if counter is not None:
        counter[0] += 1
