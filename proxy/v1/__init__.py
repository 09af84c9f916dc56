"""The Capsule API v1 document layer: v1 XML and v1 JSON bodies <-> a neutral form, validated
against the XSDs in ``schemas/``. Pure (no HTTP, no network).

Neutral form: a task is a ``dict[str, str]`` from v1 element names to their text, e.g.
``{"id": "100", "description": "Meet", "dueDateTime": "2012-02-24T15:00:00Z"}``; lists are
lists of those; users are dicts keyed by ``USER_FIELDS``; categories a ``list[str]``.

Modules: ``documents`` (field lists, limits, errors), ``schemas`` (XSD loading, validation
messages), ``xml_codec``, ``json_codec``, ``codec`` (format choice from HTTP headers and
format-dispatching encoders). What the HTTP layer needs is re-exported here.
"""

from .codec import (
    CONTENT_TYPES, JSON, XML,
    content_type, decode_task, encode_categories, encode_error, encode_task, encode_tasks,
    encode_users, request_format, response_format,
)
from .documents import (
    DEFAULT_MAX_BYTES, TASK_FIELDS, TASK_READ_ONLY_FIELDS, TASK_WRITABLE_FIELDS, USER_FIELDS,
    BadDocument, DocumentError, DocumentTooLarge, UnsupportedMediaType,
)

__all__ = [
    "XML", "JSON", "CONTENT_TYPES", "DEFAULT_MAX_BYTES",
    "TASK_FIELDS", "TASK_WRITABLE_FIELDS", "TASK_READ_ONLY_FIELDS", "USER_FIELDS",
    "DocumentError", "BadDocument", "DocumentTooLarge", "UnsupportedMediaType",
    "request_format", "response_format", "content_type",
    "decode_task", "encode_task", "encode_tasks", "encode_users", "encode_categories", "encode_error",
]
