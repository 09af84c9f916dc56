"""An explanation as text for people: the v1 request, the v2 calls, the v1 answer (M1)."""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
_INDENT = "             "


def _pretty_body(text: str, content_type: str | None) -> str:
    if not text:
        return ""
    try:
        if "json" in (content_type or ""):
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        root = etree.fromstring(text.encode("utf-8"), _PARSER)
        return etree.tostring(root, pretty_print=True, encoding="unicode").rstrip("\n")
    except (ValueError, etree.LxmlError):
        return text


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _one_record(body: Any) -> str | None:
    """The item name of an answer holding one record (`{"task": {...}}`), else None."""
    if isinstance(body, dict) and len(body) == 1:
        (key, value), = body.items()
        if isinstance(value, dict):
            return key
    return None


def render_text(explanation: dict[str, Any]) -> str:
    request, answer = explanation["request"], explanation["answer"]
    out = [f"v1 request: {request['method']} {request['path']}"]
    if request.get("contentType"):
        out.append(f"  Content-Type: {request['contentType']}")
    if request.get("accept"):
        out.append(f"  Accept: {request['accept']}")
    if request.get("body"):
        out.append(_indent(_pretty_body(request["body"], request.get("contentType")), "  "))
    out.append("")
    calls = explanation["calls"]
    if not calls:
        out.append("v2 calls: none (the proxy answers without calling Capsule)")
    else:
        assumed = explanation["assumptions"]
        source = "[translate] timezone" if assumed["timezoneFrom"] == "[translate] timezone" else "users' time zone"
        out.append(f"v2 calls ({source}: {assumed['timezone']}):")
    for call in calls:
        role = "look-up" if call["role"] == "look-up" else "call   "
        out.append(f"  {call['step']}. {role} {call['method']} {call['url']}")
        if call["purpose"]:
            out.append(_INDENT + call["purpose"])
        if call["body"] is not None:
            out.append(_indent(json.dumps(call["body"], indent=2, ensure_ascii=False), _INDENT))
        out.append(f"{_INDENT}-> {call['answer']['summary']}")
        item = _one_record(call["answer"]["body"])
        if call["role"] == "call" and call["method"] == "GET" and item:
            out.append(f"{_INDENT}the emulator's {item}, as v2 answers it:")
            out.append(_indent(json.dumps(call["answer"]["body"], indent=2, ensure_ascii=False), _INDENT))
    out.append("")
    out.append("v1 answer, made from the v2 answers:" if calls else "v1 answer:")
    out.append(f"  {answer['status']} {answer['reason']}".rstrip())
    for name, value in answer["headers"].items():
        if name != "Content-Type" or answer["body"]:
            out.append(f"  {name}: {value}")
    if answer["body"]:
        out.append(_indent(_pretty_body(answer["body"], answer["headers"].get("Content-Type")), "  "))
    notes = explanation.get("notes") or []
    if notes:
        out.append("")
        out.extend(f"note: {note}" for note in notes)
    return "\n".join(out) + "\n"
