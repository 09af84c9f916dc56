"""The two ways a translation can fail, kept apart because they are answered differently.

`InvalidField` is the v1 client's fault (the HTTP layer answers a v1 400); `UpstreamDataError`
is v2 sending something this layer cannot read (the HTTP layer answers a 502, never a 400,
because no change to the client's request would help).
"""

from __future__ import annotations


class InvalidField(ValueError):
    """A v1 element (or query parameter) whose value cannot be translated.

    `field` is the v1 element name (`dueDateTime`, `owner`, ...) or the query parameter name
    (`start`, `status`, ...); `message` is meant for the client, so it names the field and
    quotes the bad value.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class UpstreamDataError(ValueError):
    """A v2 response field that is not in the documented format (e.g. a `dueOn` that is no date)."""
