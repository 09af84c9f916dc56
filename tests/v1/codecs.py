"""The per-kind codec calls the document tests are written in, over the generic codec API
(`decode(body, kinds)` / `encode(root, record)`): one line each, so the tests read as before."""

from __future__ import annotations

from typing import Any

from proxy.v1 import codec as _codec, json_codec as _json, xml_codec as _xml


class _Shim:
    def __init__(self, module: Any, **calls: Any):
        self._module = module
        self.__dict__.update(calls)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _xml_decoders(decode: Any, decode_list: Any) -> dict[str, Any]:
    return dict(
        decode_task=lambda body, **kw: decode(body, ("task",), **kw)[1],
        decode_tasks=lambda body, **kw: [r for _, r in decode_list(body, ("tasks",), **kw)[1]],
        decode_users=lambda body, **kw: [r for _, r in decode_list(body, ("users",), **kw)[1]],
        decode_categories=lambda body, **kw: [r for _, r in decode_list(body, ("taskCategories",), **kw)[1]],
        decode_error=lambda body, **kw: decode(body, ("error",), **kw)[1]["message"],
    )


xml_codec = _Shim(
    _xml, **_xml_decoders(_xml.decode, _xml.decode_list),
    encode_task=lambda task: _xml.encode("task", task),
    encode_tasks=lambda tasks: _xml.encode_list("tasks", [("task", t) for t in tasks]),
    encode_users=lambda users: _xml.encode_list("users", [("user", u) for u in users]),
    encode_categories=lambda names: _xml.encode_list("taskCategories", [("taskCategory", n) for n in names if n]),
    encode_error=_xml.encode_error,
)
json_codec = _Shim(
    _json, **_xml_decoders(_json.decode, _json.decode_list),
    encode_task=lambda task: _json.encode("task", task),
    encode_tasks=lambda tasks, always_list=False: _json.encode_list(
        "tasks", [("task", t) for t in tasks], always_list=always_list, item="task"),
    encode_users=lambda users, always_list=False: _json.encode_list(
        "users", [("user", u) for u in users], always_list=always_list, item="user"),
    encode_categories=lambda names, always_list=False: _json.encode_list(
        "taskCategories", [("taskCategory", n) for n in names if n], always_list=always_list, item="taskCategory"),
    encode_error=_json.encode_error,
)
codec = _Shim(
    _codec,
    decode_task=lambda body, content_type=None, **kw: _codec.decode(body, content_type, ("task",), **kw)[1],
    decode_tasks=lambda body, content_type=None, **kw: [
        r for _, r in _codec.decode_list(body, content_type, ("tasks",), **kw)[1]],
    encode_task=lambda task, fmt=_codec.XML: _codec.encode("task", task, fmt),
    encode_tasks=lambda tasks, fmt=_codec.XML, always_list=False: _codec.encode_list(
        "tasks", [("task", t) for t in tasks], fmt, always_list=always_list, item="task"),
    encode_users=lambda users, fmt=_codec.XML, always_list=False: _codec.encode_list(
        "users", [("user", u) for u in users], fmt, always_list=always_list, item="user"),
    encode_categories=lambda names, fmt=_codec.XML, always_list=False: _codec.encode_list(
        "taskCategories", [("taskCategory", n) for n in names if n], fmt, always_list=always_list,
        item="taskCategory"),
)
