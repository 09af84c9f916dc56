"""A shape's v2 -> v1 reader, compiled once into one Python function (issue 14).

``to_v1`` runs for every record of every answer: 100 per list page. Calling one closure per
element (``text("description")``, ``nested_text("owner", "username")``...) cost about half of
it. The common readers carry a ``spec`` saying what they read; here each becomes a few inline
lines of one generated function, with the very checks ``v2_data`` makes (a value of the wrong
type still goes through ``v2_data``, which raises UpstreamDataError). Any other reader, and
every ``Rule``, is called as written. tests/translate/test_compiled.py holds the generated
function to the plain loop over the columns, on generated v2 data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import v2_data
from .dates import timestamp_to_v1
from .ids import MAX_ID

#: What a reader reads, when it is one of the compiled kinds: ("text", key), ("ident", key),
#: ("stamp", key), ("nested_text", link, key), ("nested_id", link).
Spec = tuple[str, ...]
ReadColumn = tuple[str | None, Callable[..., Any]]   # (v1 element or None for a rule, reader)

_TEXT = """\
{i}v = {src}.get({key!r})
{i}if v is not None:
{i}    if type(v) is not str: v = text({src}, {key!r})
{i}    if v: out[{name!r}] = {value}
"""
_IDENT = """\
{i}v = {src}.get({key!r})
{i}if v is not None:
{i}    out[{name!r}] = str(v) if type(v) is int and 0 < v <= MAX_ID else ident({src}, {key!r})
"""
_NESTED = """\
r = v2.get({link!r})
if r is not None:
    if type(r) is not dict: r = record(v2, {link!r})
    if r:
{inner}"""


def _inline(name: str, spec: Spec) -> str | None:
    kind = spec[0]
    if kind == "text":
        return _TEXT.format(i="", src="v2", key=spec[1], name=name, value="v")
    if kind == "stamp":
        return _TEXT.format(i="", src="v2", key=spec[1], name=name, value="stamp(v)")
    if kind == "ident":
        return _IDENT.format(i="", src="v2", key=spec[1], name=name)
    if kind == "nested_text":
        inner = _TEXT.format(i="        ", src="r", key=spec[2], name=name, value="v")
        return _NESTED.format(link=spec[1], inner=inner)
    if kind == "nested_id":
        inner = _IDENT.format(i="        ", src="r", key="id", name=name)
        return _NESTED.format(link=spec[1], inner=inner)
    return None


def compile_reader(root: str, columns: Sequence[ReadColumn]) -> Callable[[Mapping[str, Any], Any], dict[str, Any]]:
    """The function ``(v2, ctx) -> v1 record`` for these (element, reader) columns, in order.
    Empty values are left out, as ``to_v1`` promises."""
    lines = ["def read(v2, ctx):", "    out = {}"]
    namespace: dict[str, Any] = {"text": v2_data.text, "ident": v2_data.ident, "record": v2_data.record,
                                 "stamp": timestamp_to_v1, "MAX_ID": MAX_ID}
    for index, (name, reader) in enumerate(columns):
        spec = getattr(reader, "spec", None)
        code = _inline(name, spec) if name is not None and spec is not None else None
        if code is None:
            namespace[f"r{index}"] = reader
            if name is None:                  # a rule: several elements at once
                code = (f"v = r{index}(v2, ctx)\nif v:\n    for k, x in v.items():\n"
                        f"        if x is not None and x != '': out[k] = x\n")
            else:
                code = f"v = r{index}(v2, ctx)\nif v is not None and v != '': out[{name!r}] = v\n"
        lines.extend("    " + line for line in code.splitlines())
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<to_v1 of <{root}>>", "exec"), namespace)  # noqa: S102 - our own code
    return namespace["read"]
