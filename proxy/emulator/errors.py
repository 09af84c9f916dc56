"""v2 error answers: `{"message": ...}`, and 422 `{"message": "Validation Failed", "errors": [...]}`."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


class V2Error(Exception):
    """An error the emulator answers with `{"message": ...}` and the given status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> web.Response:
        return json_response({"message": self.message}, self.status, self.headers)


class ValidationFailed(V2Error):
    """422 with one entry per bad field, as Capsule reports it."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__(422, "Validation Failed")
        # One entry per bad field: a field that failed a shape check is not reported again
        # by a later check that saw it missing.
        by_field: dict[str, dict[str, str]] = {}
        for error in errors:
            by_field.setdefault(error["field"], error)
        self.errors = list(by_field.values())

    def response(self) -> web.Response:
        return json_response({"message": self.message, "errors": self.errors}, self.status)


def field_error(resource: str, field: str, message: str) -> dict[str, str]:
    return {"message": message, "resource": resource, "field": field}


def not_found(resource: str, ident: object) -> V2Error:
    return V2Error(404, f"Could not find {resource} {ident}")
