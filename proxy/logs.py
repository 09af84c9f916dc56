"""Logging: one JSON object per line for machines, readable lines for people, tokens never.

`[log] format = "auto"` picks text when stderr is a terminal and JSON otherwise. Every request
gets one access line (from the request observer), with the client's token scrubbed from every
field. A redaction filter is the last line of defence: any `Basic …`/`Bearer …` credential in a
message or any text field is replaced before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

import orjson
from aiohttp.http_exceptions import HttpProcessingError

from .observe import RequestRecord
from .upstream.client import scrub

ACCESS = logging.getLogger("capsule_proxy.access")
# A credential after Basic/Bearer: token68 characters with a digit, a symbol or a capital, or 12 or
# more of them; so "HTTP Basic with the token" (a word, in a message) stays readable.
_CREDENTIAL = re.compile(r"\b((?i:Basic|Bearer))\s+(?=[a-z]*[A-Z0-9+/=._~-]|[a-z]{12})[A-Za-z0-9+/=._~-]+")
# Attributes every LogRecord has; anything else was passed with `extra=` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_OPS_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def redact(text: str) -> str:
    return _CREDENTIAL.sub(r"\1 [redacted]", text)


class RedactingFilter(logging.Filter):
    """Redacts the message and every text field passed with `extra=` (the JSON format writes
    them all: a User-Agent or an error can carry a credential as well as the message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in vars(record).items():
            if key not in _STANDARD and isinstance(value, str):
                cleaned = redact(value)
                if cleaned != value:
                    setattr(record, key, cleaned)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((key, value) for key, value in vars(record).items() if key not in _STANDARD)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatException(self, exc_info: Any) -> str:  # noqa: N802 - logging's name
        return redact(super().formatException(exc_info))


class ServerLog(logging.LoggerAdapter):
    """aiohttp's server log without the bytes of requests it could not parse: its parser errors
    quote the offending header line or value, an `Authorization: Basic <token>` one included.
    Only the kind of error is logged for those."""

    def process(self, msg, kwargs):  # type: ignore[no-untyped-def]
        exc = kwargs.get("exc_info")
        if exc is True:
            exc = sys.exc_info()[1]
        elif isinstance(exc, tuple):
            exc = exc[1]
        if isinstance(exc, HttpProcessingError):
            kwargs["exc_info"] = None
            msg = f"{msg}: {type(exc).__name__} ({exc.code})"
        return msg, kwargs


SERVER_LOG = ServerLog(logging.getLogger("aiohttp.server"), None)


def setup_logging(level: str, fmt: str, stream: Any = None) -> None:
    """Configure the root logger once; safe to call again (SIGHUP) with new values."""
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "text" if getattr(stream, "isatty", lambda: False)() else "json"
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_capsule_proxy", False):
            root.removeHandler(old)
    handler._capsule_proxy = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


def access_log(record: RequestRecord) -> None:
    """The request observer that writes the access line (probes only at debug level).

    The client's token is scrubbed from every field: a client may put it in its User-Agent (or
    its method), and an upstream may echo it in an error; the credential pattern of the filter
    would not see a bare token."""
    level = logging.DEBUG if record.route in _OPS_ROUTES else logging.INFO
    if not ACCESS.isEnabledFor(level):
        return
    fields: dict[str, Any] = {
        "request_id": record.request_id, "trace_id": record.trace_id, "client": record.client,
        "method": record.method,
        "route": record.route, "status": record.status, "duration_ms": round(record.duration * 1000, 3),
        "upstream_calls": record.upstream_calls, "bytes_in": record.bytes_in,
        "bytes_out": record.bytes_out, "user_agent": record.user_agent,
        **({"error": record.error} if record.error else {})}
    if record.token:
        fields = {key: scrub(value, record.token) if isinstance(value, str) else value
                  for key, value in fields.items()}
    ACCESS.log(level, "%s %s %s %.1fms", fields["method"], record.route, record.status,
               record.duration * 1000, extra=fields)
