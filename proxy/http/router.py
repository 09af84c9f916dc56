"""The v1 router: every declared route, and what to say about paths that are not one.

aiohttp routes `/api/{tail}` here, so that every v1 path gets the same treatment: one trailing
slash and doubled slashes are forgiven, a `.xml`/`.json` suffix chooses the answer's format,
a known v1 path the proxy does not translate is a 501 naming it (a 404 would tell a v1 client
the record does not exist), and only a path that was never v1 is a 404. Paths are matched on
their raw (percent-encoded) segments, so `%2F` can never make a new segment; each parameter is
decoded on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from ..resources.base import Resource, Route

_PARAM = re.compile(r"\{(\w+)(?::([^{}]+))?\}")
_SUFFIXES = {".xml": "application/xml", ".json": "application/json"}


@dataclass(frozen=True)
class Match:
    resource: Resource | None
    route: Route | None
    params: dict[str, str]
    label: str                      # the route as metrics and the usage inventory show it
    accept: str | None = None       # a suffix's format, in place of the Accept header


@dataclass(frozen=True)
class Miss:
    status: int                     # 404, 405 or 501
    message: str
    label: str
    allow: tuple[str, ...] = ()


@dataclass
class _Compiled:
    pattern: re.Pattern[str]
    template: str
    methods: dict[str, tuple[Resource | None, Route | None]] = field(default_factory=dict)


def _compile(template: str) -> re.Pattern[str]:
    out, last = [], 0
    for param in _PARAM.finditer(template):
        out.append(re.escape(template[last:param.start()]))
        out.append(f"(?P<{param[1]}>{param[2] or '[^/]+'})")
        last = param.end()
    out.append(re.escape(template[last:]))
    return re.compile("".join(out))


def _segments(template: str) -> int:
    return template.count("/")


class Router:
    def __init__(self, resources: Iterable[Resource], untranslated: Iterable[tuple[str, str]]):
        self._by_depth: dict[int, list[_Compiled]] = {}
        compiled: dict[str, _Compiled] = {}
        for resource in resources:
            for route in resource.routes:
                entry = compiled.setdefault(route.path, _Compiled(_compile(route.path), route.path))
                entry.methods[route.method] = (resource, route)
        self._known: list[tuple[re.Pattern[str], str, str]] = [
            (_compile(path), path, methods) for methods, path in untranslated]
        # A literal segment wins over a parameter: /api/task/categories is not task "categories".
        for entry in sorted(compiled.values(), key=lambda e: [part.startswith("{") for part in e.template.split("/")]):
            self._by_depth.setdefault(_segments(entry.template), []).append(entry)

    def resolve(self, method: str, raw_path: str) -> Match | Miss:
        path, accept = _normalise(raw_path)
        method = "GET" if method == "HEAD" else method
        for entry in self._by_depth.get(path.count("/"), ()):
            found = entry.pattern.fullmatch(path)
            if found is None:
                continue
            try:
                params = {name: unquote(value, errors="strict") for name, value in found.groupdict().items()}
            except UnicodeDecodeError:
                return Miss(400, "the path holds percent-encoded bytes that are not UTF-8", entry.template)
            label = _label(entry.template, params)
            target = entry.methods.get(method)
            if target is None:
                known = self._untranslated(method, path)
                if known is not None:
                    return known
                allow = tuple(sorted(entry.methods))
                return Miss(405, f"{method} is not allowed on {label}; allowed: {', '.join(allow)}", label, allow)
            resource, route = target
            return Match(resource, route, params, label, accept)
        return self._untranslated(method, path) or Miss(
            404, f"there is no v1 API resource at {path}", "unmatched")

    def _untranslated(self, method: str, path: str) -> Miss | None:
        for pattern, template, methods in self._known:
            found = pattern.fullmatch(path)
            if found is not None and (method in methods.split("|") or methods == "*"):
                label = _label(template, found.groupdict())
                return Miss(501, f"{method} {label} is a v1 API call the proxy does not translate "
                                 "(see the README's list of untranslated calls)", label)
        return None


def _label(template: str, params: dict[str, str]) -> str:
    """The route as metrics show it: parameters as {name}, but the parent kind spelled out
    (/api/{kind}/{id}/tasks is three v1 routes: say which one)."""
    return _PARAM.sub(lambda m: params["kind"] if m[1] == "kind" and "kind" in params else "{" + m[1] + "}",
                      template)


def _normalise(raw_path: str) -> tuple[str, str | None]:
    """Doubled slashes collapsed, one trailing slash dropped, a format suffix taken off."""
    path = re.sub(r"/{2,}", "/", raw_path)
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    accept = None
    for suffix, media_type in _SUFFIXES.items():
        if path.endswith(suffix):
            path, accept = path[: -len(suffix)], media_type
            break
    return path, accept

