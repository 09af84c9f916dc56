"""W3C Trace Context (https://www.w3.org/TR/trace-context/) for a sidecar that records no spans:
an incoming `traceparent` (and its `tracestate`) is kept and sent upstream as it came, so the
proxy is transparent to the trace; a request without a valid one starts a trace (decision O5).
The trace id is logged beside the request id. No OpenTelemetry: it is a header and a log field.
"""

from __future__ import annotations

import os
import re

# version-traceid-parentid-flags; a later version may append fields after the flags.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?\Z")
_MAX_TRACESTATE = 512   # the spec lets a vendor drop a longer one rather than carry it


def trace_context(traceparent: str | None, tracestate: str | None) -> tuple[str, str | None, str]:
    """(traceparent to send upstream, tracestate to send or None, trace id to log)."""
    found = _TRACEPARENT.match(traceparent.strip()) if traceparent else None
    if found is not None:
        version, trace_id, parent_id, _, rest = found.groups()
        valid = (version != "ff" and trace_id != "0" * 32 and parent_id != "0" * 16
                 and (version != "00" or rest is None))
        if valid:
            state = tracestate.strip() if tracestate and len(tracestate) <= _MAX_TRACESTATE else None
            return found.group(0), state or None, trace_id
    # None, or one the spec says to replace: start a trace. Not sampled: the proxy records nothing.
    trace_id = os.urandom(16).hex()
    return f"00-{trace_id}-{os.urandom(8).hex()}-00", None, trace_id
