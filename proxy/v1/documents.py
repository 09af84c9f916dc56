"""The limits on v1 request bodies, the errors the codecs raise, and XML text escaping.

The *neutral form* every codec in this package produces and consumes is a record: a ``dict``
from v1 element names to values, in document order, where a value is

* ``str``: a leaf's text (``{"id": "100", "description": "Meet"}``);
* ``dict``: a nested element (``"contacts": {...}``);
* ``list``: an element that repeats (``"email": [{...}, {...}]``, ``"country": ["Brazil"]``);

and a key ``"@name"`` is an attribute (``"@delete": "true"``). A list document is its root's
attributes plus ``(element name, record or text)`` items, in order, since v1 lists may mix
element names (``<parties>`` holds ``<person>`` and ``<organisation>``).

Only the HTTP layer turns a :class:`DocumentError` into a response: ``status`` is the HTTP
status to answer with and ``message`` the text for the v1 error body.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_MAX_BYTES", "MAX_DEPTH",
    "DocumentError", "BadDocument", "DocumentTooLarge", "UnsupportedMediaType",
    "xml_safe", "first_non_xml_char", "as_text", "escape_text", "NEEDS_ESCAPE", "checked_body",
]

#: Largest request body the codecs accept, in bytes (1 MiB, aiohttp's default
#: ``client_max_size``). Every decode function takes ``max_bytes`` to override it.
DEFAULT_MAX_BYTES = 1024 * 1024

#: Deepest element nesting accepted in an XML body (the root is depth 1). The deepest
#: legitimate v1 document is 5 levels (``history/historyItem/attachments/attachment/id``).
MAX_DEPTH = 8


class DocumentError(Exception):
    """A request body the proxy cannot accept.

    ``status`` is the HTTP status to answer with (400, 413 or 415) and ``message`` one
    human-readable sentence naming the problem, meant for the v1 error body.
    """

    status = 400
    reason = "invalid"  # a short label for metrics: empty, encoding, doctype, malformed, ...

    def __init__(self, message: str, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if reason is not None:
            self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.message!r})"


class BadDocument(DocumentError):
    """400: empty, malformed, forbidden (DOCTYPE), too deep, or not valid for its schema."""

    status = 400


class DocumentTooLarge(DocumentError):
    """413: the body is larger than ``max_bytes``."""

    status = 413
    reason = "too_large"


class UnsupportedMediaType(DocumentError):
    """415: a content type or character encoding the proxy does not read."""

    status = 415
    reason = "unsupported_type"


# The complement of XML 1.0 `Char` (#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
# [#x10000-#x10FFFF]) within what a Python str can hold, as a positive class (faster in `re`).
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (C0 controls other than tab,
    CR and LF; U+FFFE, U+FFFF; lone surrogates). Used on every value the encoders write."""
    if _NOT_XML_CHAR.search(text) is None:
        return text
    return _NOT_XML_CHAR.sub("", text)


def first_non_xml_char(text: str) -> str | None:
    """The first character of ``text`` that XML 1.0 cannot carry, or None."""
    found = _NOT_XML_CHAR.search(text)
    return None if found is None else found.group()


def as_text(key: str, value: object) -> str | None:
    """A neutral value as text for the encoders: ``str`` as is, ``int`` in decimal, ``None``
    as None (meaning: leave the element out). Anything else is a programming error."""
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"the value of {key!r} must be str, int or None, not {type(value).__name__}")


#: Matches a character that XML text content cannot hold as is: & < > and CR (escaped) or
#: a character XML cannot carry at all (removed). One search over a value, or over all values
#: of a record joined, decides whether any work is needed.
NEEDS_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape_text(text: str) -> str:
    """``text`` as XML text content, exactly as lxml writes it: characters XML cannot carry
    removed, ``&``, ``<``, ``>`` escaped, CR written as ``&#13;`` (so it survives parsing)."""
    if NEEDS_ESCAPE.search(text) is None:
        return text
    return (xml_safe(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def checked_body(body: bytes | bytearray | memoryview, max_bytes: int) -> bytes:
    """The body as bytes, refused with 413 when larger than ``max_bytes`` (the first check of all)."""
    if not isinstance(body, bytes):
        if isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        else:
            raise TypeError(f"body must be bytes, not {type(body).__name__}")
    if len(body) > max_bytes:
        raise DocumentTooLarge(f"the request body is {len(body)} bytes; the limit is {max_bytes} bytes")
    return body
