"""One example v1 request per declared route, made from the declarations (M1, docs/migrating.md).

Path parameters are filled (`{kind:party|...}` with its first word, ids with 7 for a parent and
59 for a record), a list gets its `example_query` option, or `start=0&limit=10` when it takes
them, and a route that reads a document (a create, any PUT) gets its `example_body` option or
else the family's sample (samples.py), as XML. scripts/gen_migrating.py explains each; the tests
check that every route explains with the records its path names. The v1 calls the proxy does not
translate get one example each too, made the same way from their templates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ..resources import RESOURCES, UNTRANSLATED
from ..resources.base import Resource, Route
from ..v1 import codec
from .account import new_account

PARENT_ID = 7
RECORD_ID = 59
_PARAM = re.compile(r"\{(\w+)(?::([^{}]+))?\}")
_READS_DOCUMENT = ("create",)          # besides every PUT: the operations that read a v1 body


@dataclass(frozen=True)
class Example:
    resource: Resource
    route: Route
    method: str
    path: str
    content_type: str | None = None
    body: str | None = None


def fill(template: str) -> str:
    """A v1 path template with example values in its parameters."""
    parent = "{kind" in template

    def value(param: re.Match[str]) -> str:
        name, pattern = param[1], param[2]
        if pattern:                                  # {kind:party|opportunity|kase}, {kind:party}
            return pattern.split("|")[0]
        if name == "id":
            return str(PARENT_ID if parent else RECORD_ID)
        return "example" if name == "name" else "1"     # a tag's name; any other parameter is an id
    return _PARAM.sub(value, template)


def _reads_document(route: Route) -> bool:
    return route.method == "PUT" or route.op in _READS_DOCUMENT or "example_body" in route.options


def example(resource: Resource, route: Route, zone: ZoneInfo) -> Example:
    path = fill(route.path)
    if route.op == "list" and route.options.get("example_query"):
        path += "?" + route.options["example_query"]      # a list that cannot be read without it
    elif route.op == "list" and {"start", "limit"} <= set(resource.list_params):
        path += "?start=0&limit=10"
    if not _reads_document(route):
        return Example(resource, route, route.method, path)
    if "example_body" in route.options:                   # a document the family cannot sample
        (root, document), = route.options["example_body"].items()
    elif any(shape.writable for shape in resource.shapes):
        roots = route.options.get("roots", resource.roots)
        shape = resource.shape(roots[0])
        account = new_account(zone, owners=None, owner_zones=None, categories=None)
        root, document = shape.root, account.sampler(resource, shape).document(RECORD_ID)
    else:
        return Example(resource, route, route.method, path)
    body = codec.encode(root, document).decode("utf-8").split("?>", 1)[1]
    return Example(resource, route, route.method, path, "application/xml", body)


def every_route(zone: ZoneInfo) -> Iterator[Example]:
    """An example for each declared route, in declaration order."""
    for resource in RESOURCES:
        for route in resource.routes:
            yield example(resource, route, zone)


def untranslated() -> Iterator[tuple[str, str]]:
    """(method, path) of one example for each v1 call the proxy does not translate (a 501)."""
    for methods, template in UNTRANSLATED:
        yield ("GET" if methods == "*" else methods.split("|")[0]), fill(template)
