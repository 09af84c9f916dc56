"""One example v1 request per declared route, made from the declarations (M1, docs/migrating.md).

Path parameters are filled (`{kind:party|...}` with its first word, ids with 7 for a parent and
59 for a record), a list gets `start=0&limit=10` when it takes them, and a route that reads a
document gets the family's sample (samples.py) as XML. scripts/gen_migrating.py explains each;
the tests check that every route explains with the records its path names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ..resources import RESOURCES
from ..resources.base import Resource, Route
from ..v1 import codec
from .account import new_account

PARENT_ID = 7
RECORD_ID = 59
_PARAM = re.compile(r"\{(\w+)(?::([^{}]+))?\}")
_READS_DOCUMENT = ("create", "update")          # the generic operations that read a v1 body


@dataclass(frozen=True)
class Example:
    resource: Resource
    route: Route
    method: str
    path: str
    content_type: str | None = None
    body: str | None = None


def _fill(route: Route) -> str:
    parent = "{kind" in route.path

    def value(param: re.Match[str]) -> str:
        name, pattern = param[1], param[2]
        if pattern:                                  # {kind:party|opportunity|kase}, {kind:party}
            return pattern.split("|")[0]
        if name == "id":
            return str(PARENT_ID if parent else RECORD_ID)
        return "example" if name == "name" else "1"     # a tag's name; any other parameter is an id
    return _PARAM.sub(value, route.path)


def example(resource: Resource, route: Route, zone: ZoneInfo) -> Example:
    path = _fill(route)
    if route.op == "list" and route.options.get("example_query"):
        path += "?" + route.options["example_query"]      # a list that cannot be read without it
    elif route.op == "list" and {"start", "limit"} <= set(resource.list_params):
        path += "?start=0&limit=10"
    if route.op not in _READS_DOCUMENT or not resource.shapes:
        return Example(resource, route, route.method, path)
    roots = route.options.get("roots", resource.roots)
    shape = resource.shape(roots[0])
    account = new_account(zone, owners=None, owner_zones=None, categories=None)
    document = account.sampler(resource, shape).document(RECORD_ID)
    body = codec.encode(shape.root, document).decode("utf-8").split("?>", 1)[1]
    return Example(resource, route, route.method, path, "application/xml", body)


def every_route(zone: ZoneInfo) -> Iterator[Example]:
    """An example for each declared route, in declaration order."""
    for resource in RESOURCES:
        for route in resource.routes:
            yield example(resource, route, zone)
