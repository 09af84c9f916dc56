"""What the v1 documents hold, the limits on request bodies, and the errors the codecs raise.

The *neutral form* every codec in this package produces and consumes:

* one task is a ``dict[str, str]`` from v1 element names (``TASK_FIELDS``) to their text,
  in document order, e.g. ``{"id": "100", "description": "Meet", "partyId": "1"}``;
* a task list is a ``list`` of those;
* a user is a ``dict[str, str]`` keyed by ``USER_FIELDS``; a user list is a list of those;
* task categories are a ``list[str]`` of names;
* an error is its message, a ``str``.

Only the HTTP layer turns a :class:`DocumentError` into a response: ``status`` is the HTTP
status to answer with and ``message`` the text for the v1 error body.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_MAX_BYTES", "MAX_DEPTH",
    "TASK_FIELDS", "TASK_WRITABLE_FIELDS", "TASK_READ_ONLY_FIELDS", "USER_FIELDS",
    "KINDS", "ROOTS",
    "DocumentError", "BadDocument", "DocumentTooLarge", "UnsupportedMediaType",
    "xml_safe", "first_non_xml_char", "as_text", "escape_text", "NEEDS_ESCAPE", "checked_body",
]

#: Largest request body the codecs accept, in bytes (1 MiB, aiohttp's default
#: ``client_max_size``). Every decode function takes ``max_bytes`` to override it.
DEFAULT_MAX_BYTES = 1024 * 1024

#: Deepest element nesting accepted in an XML body (the root is depth 1). The deepest
#: legitimate v1 document is 3 levels (``tasks/task/id``).
MAX_DEPTH = 8

#: Writable children of ``<task>``, in the order the proxy writes them.
TASK_WRITABLE_FIELDS: tuple[str, ...] = (
    "description", "detail", "category", "dueDate", "dueDateTime", "owner",
)
#: Read-only children of ``<task>``. They are accepted in request bodies (clients such as
#: capsulecrm-java PUT the whole object they read) and it is up to the translation layer to
#: ignore them.
TASK_READ_ONLY_FIELDS: tuple[str, ...] = (
    "id", "partyId", "partyName", "opportunityId", "opportunityName", "caseId", "caseName",
    "status", "createdOn", "updatedOn", "completedOn",
)
#: Every child ``<task>`` may have, in the order of the v1 documentation's example.
TASK_FIELDS: tuple[str, ...] = (
    "id", "description", "detail", "category", "dueDate", "dueDateTime", "owner",
    "partyId", "partyName", "opportunityId", "opportunityName", "caseId", "caseName",
    "status", "createdOn", "updatedOn", "completedOn",
)
#: Every child ``<user>`` may have (v1 ``GET /api/users``; v1 users had no ``id``).
USER_FIELDS: tuple[str, ...] = ("username", "name", "currency", "timezone", "loggedIn", "partyId")

#: The document kinds, each with its own schema in ``schemas/<kind>.xsd``.
KINDS: tuple[str, ...] = ("task", "tasks", "users", "taskCategories", "error")
#: Root element of each kind (the kind's name).
ROOTS: dict[str, str] = {kind: kind for kind in KINDS}


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
