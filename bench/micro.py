"""Micro-benchmarks of the document path, without HTTP: µs per operation, best of N repeats.

    python -m bench.micro [--repeat 15] [--json FILE]

Each family's document path as the handlers run it (proxy/http/handlers.py), on the canned
upstream's records (bench/canned.py):

* in (a request document -> the v2 body): ``codec.decode`` (parse + XSD validation, or the v1 JSON
  reader) then ``fields.needs`` + ``fields.to_v2`` with the look-ups in the Context;
* out (a v2 object -> the v1 answer): ``fields.to_v1`` then ``codec.encode``;
* lists: ``to_v1`` x100 then ``codec.encode_list`` (tasks; parties mixed person/organisation).

The ``codec`` rows time the codec alone (decode, or encode of an already translated record), to
tell the codec's share from the translation's. Each figure is timeit's best of ``--repeat`` runs of
about 50 ms, so it approximates the cost on an idle core; a loaded machine only adds noise upward.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path
from typing import Any, Callable, Sequence

import orjson

from proxy.resources.party import PARTY, PERSON_SHAPE
from proxy.resources.task import TASK_SHAPE
from proxy.translate import fields as engine
from proxy.translate.fields import Context
from proxy.v1 import codec

from .canned import CATEGORIES, USERS, make_party, make_task
from .report import CODEC_US, LIST_US

XML_TYPE, JSON_TYPE = "application/xml", "application/json"

DETAIL = ("Follow up on the renewal quote sent last week. They asked about volume pricing for "
          "the second site, whether the support tier can be switched mid-term, and how the "
          "invoice schedule changes if they move to annual billing. Bring the signed order form "
          "from March, the revised price list and the onboarding plan for the new team. "
          "Remember: the finance contact is only in on Tuesdays and Thursdays, and the "
          "legal team wants the data-processing addendum countersigned before the renewal date.")
V1_TASK = {"description": "Call Eric about the renewal of the CRM System contract", "detail": DETAIL,
           "category": "Call", "owner": "phillip", "dueDateTime": "2026-04-21T15:00:00Z"}


def context(creating: bool = False) -> Context:
    """What the handlers hand the engine in steady state: the look-ups, cached."""
    return Context(creating=creating, lists={"users": USERS, "categories": CATEGORIES}, caller=USERS[0])


def _create_document(shape: engine.Shape, v2: dict[str, Any]) -> dict[str, Any]:
    """The v1 record a client would POST: what GET answers, less read-only elements and ids."""
    record = {k: v for k, v in engine.to_v1(shape, v2, context()).items() if k not in shape.read_only}
    contacts = record.get("contacts")
    if isinstance(contacts, dict):
        record["contacts"] = {kind: [{k: v for k, v in row.items() if k != "id"} for row in rows]
                              for kind, rows in contacts.items()}
    return record


V1_PERSON = _create_document(PERSON_SHAPE, make_party(1))
DOCUMENTS = {
    ("task", "xml"): codec.encode("task", V1_TASK, codec.XML),
    ("task", "json"): codec.encode("task", V1_TASK, codec.JSON),
    ("person", "xml"): codec.encode("person", V1_PERSON, codec.XML),
    ("person", "json"): codec.encode("person", V1_PERSON, codec.JSON),
}
SHAPES = {"task": TASK_SHAPE, "person": PERSON_SHAPE}
V2_ONE = {"task": make_task(10), "person": make_party(1)}   # task 10: party, owner, category, dueTime
V2_TASKS = [make_task(n) for n in range(1, 101)]
V2_PARTIES = [make_party(n) for n in range(1, 101)]
V2_TASK_PAGE = orjson.dumps({"tasks": V2_TASKS})
V2_PARTY_PAGE = orjson.dumps({"parties": V2_PARTIES})
FORMATS = {"xml": codec.XML, "json": codec.JSON}
CONTENT_TYPES = {"xml": XML_TYPE, "json": JSON_TYPE}


def document_in(kind: str, fmt: str) -> Callable[[], dict[str, Any]]:
    body, content_type, shape = DOCUMENTS[(kind, fmt)], CONTENT_TYPES[fmt], SHAPES[kind]

    def run() -> dict[str, Any]:
        root, v1 = codec.decode(body, content_type, (kind,))
        ctx = context(creating=True)
        engine.needs(shape, v1, ctx)
        return engine.to_v2(shape, v1, ctx)
    return run


def decode_only(kind: str, fmt: str) -> Callable[[], Any]:
    body, content_type = DOCUMENTS[(kind, fmt)], CONTENT_TYPES[fmt]
    return lambda: codec.decode(body, content_type, (kind,))


def document_out(kind: str, fmt: str) -> Callable[[], bytes]:
    v2, shape, out = V2_ONE[kind], SHAPES[kind], FORMATS[fmt]
    return lambda: codec.encode(shape.root, engine.to_v1(shape, v2, context()), out)


def encode_only(kind: str, fmt: str) -> Callable[[], bytes]:
    shape, out = SHAPES[kind], FORMATS[fmt]
    record = engine.to_v1(shape, V2_ONE[kind], context())
    return lambda: codec.encode(shape.root, record, out)


def tasks_out(fmt: str) -> Callable[[], bytes]:
    out = FORMATS[fmt]

    def run() -> bytes:
        ctx = context()
        return codec.encode_list("tasks", [("task", engine.to_v1(TASK_SHAPE, t, ctx)) for t in V2_TASKS], out)
    return run


def parties_out(fmt: str) -> Callable[[], bytes]:
    out = FORMATS[fmt]

    def run() -> bytes:
        ctx = context()
        items = []
        for party in V2_PARTIES:
            shape = PARTY.answer_shape(party)
            items.append((shape.root, engine.to_v1(shape, party, ctx)))
        return codec.encode_list("parties", items, out)
    return run


def list_render_only(root: str, fmt: str) -> Callable[[], bytes]:
    out = FORMATS[fmt]
    if root == "tasks":
        items = [("task", engine.to_v1(TASK_SHAPE, t, context())) for t in V2_TASKS]
    else:
        items = [(PARTY.answer_shape(p).root, engine.to_v1(PARTY.answer_shape(p), p, context())) for p in V2_PARTIES]
    return lambda: codec.encode_list(root, items, out)


def tasks_from_page_bytes() -> bytes:
    ctx = context()
    tasks = orjson.loads(V2_TASK_PAGE)["tasks"]
    return codec.encode_list("tasks", [("task", engine.to_v1(TASK_SHAPE, t, ctx)) for t in tasks], codec.XML)


# name -> (function, what it measures, target in µs or None). The goals (issue: codec ≤ 20 µs per
# task and person document, each direction, XML and JSON alike; a 100-element list ≤ 1 ms).
BENCHMARKS: dict[str, tuple[Callable[[], Any], str, float | None]] = {}
for _kind in ("task", "person"):
    for _fmt in ("xml", "json"):
        BENCHMARKS[f"{_kind}_in_{_fmt}"] = (document_in(_kind, _fmt),
                                            f"{_kind} {_fmt.upper()} in: decode + validate + to_v2", CODEC_US)
        BENCHMARKS[f"{_kind}_out_{_fmt}"] = (document_out(_kind, _fmt),
                                             f"{_kind} {_fmt.upper()} out: to_v1 + encode", CODEC_US)
for _kind in ("task", "person"):
    for _fmt in ("xml", "json"):
        BENCHMARKS[f"{_kind}_decode_{_fmt}"] = (decode_only(_kind, _fmt), f"{_kind} {_fmt.upper()}: codec.decode only", None)
        BENCHMARKS[f"{_kind}_encode_{_fmt}"] = (encode_only(_kind, _fmt), f"{_kind} {_fmt.upper()}: codec.encode only", None)
BENCHMARKS.update({
    "tasks100_out_xml": (tasks_out("xml"), "100 tasks XML: to_v1 x100 + encode_list", LIST_US),
    "parties100_out_xml": (parties_out("xml"), "100 parties XML: to_v1 x100 + encode_list", LIST_US),
    "tasks100_out_json": (tasks_out("json"), "100 tasks v1 JSON: to_v1 x100 + encode_list", None),
    "parties100_out_json": (parties_out("json"), "100 parties v1 JSON: to_v1 x100 + encode_list", None),
    "tasks100_render_xml": (list_render_only("tasks", "xml"), "100 tasks XML: encode_list only", None),
    "parties100_render_xml": (list_render_only("parties", "xml"), "100 parties XML: encode_list only", None),
    "tasks100_from_v2_bytes": (tasks_from_page_bytes, "100 tasks XML from the v2 page bytes (orjson.loads + above)",
                               None),
})


def sanity_check() -> None:
    """The inputs decode and the outputs look right, so the timings time real work."""
    body = document_in("task", "xml")()
    assert body["category"] == {"id": 1} and body["owner"] == {"id": 1} and "dueTime" in body, body
    assert document_in("task", "json")() == body
    person = document_in("person", "xml")()
    assert person["firstName"] == "Eric" and person["emailAddresses"], person
    assert document_in("person", "json")() == person
    assert b"<partyName>Eric Jones</partyName>" in document_out("task", "xml")()
    assert b"<firstName>Eric</firstName>" in document_out("person", "xml")()
    assert tasks_out("xml")().count(b"<task>") == 100
    assert b'<parties size="100">' in parties_out("xml")()
    assert tasks_out("xml")() == list_render_only("tasks", "xml")() == tasks_from_page_bytes()


def measure(function: Callable[[], Any], repeat: int = 15, run_time: float = 0.05) -> float:
    """Best of `repeat` runs of about `run_time` seconds each, in µs per call. Many short runs
    rather than a few long ones: on a shared machine the best short run is the likeliest to
    have had the core to itself."""
    timer = timeit.Timer(function)
    number, elapsed = timer.autorange()
    number = max(1, int(number * run_time / max(elapsed, 1e-9)))
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def run_all(repeat: int = 15, only: set[str] | None = None) -> dict[str, Any]:
    sanity_check()
    results = {}
    for name, (function, what, target) in BENCHMARKS.items():
        if only and name not in only:
            continue
        results[name] = {"us_per_op": round(measure(function, repeat), 2), "what": what, "target_us": target}
    return {"repeat": repeat, "documents_bytes": {f"{k}.{f}": len(v) for (k, f), v in DOCUMENTS.items()},
            "list_xml_bytes": {"tasks": len(tasks_out("xml")()), "parties": len(parties_out("xml")())},
            "v2_page_bytes": {"tasks": len(V2_TASK_PAGE), "parties": len(V2_PARTY_PAGE)},
            "results": results}


def format_table(micro: dict[str, Any]) -> str:
    sizes = ", ".join(f"{k} {v} B" for k, v in micro["documents_bytes"].items())
    lines = [f"micro-benchmarks (best of {micro['repeat']}; documents: {sizes}; 100-element XML lists: "
             f"{micro['list_xml_bytes']}; v2 pages {micro['v2_page_bytes']} B)",
             f"  {'benchmark':<26} {'µs/op':>9}  {'target':>12}  what"]
    for name, row in micro["results"].items():
        target = row["target_us"]
        verdict = "" if target is None else f"≤{target:g} {'PASS' if row['us_per_op'] <= target else 'MISS'}"
        lines.append(f"  {name:<26} {row['us_per_op']:>9.2f}  {verdict:>12}  {row['what']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs of ~50 ms; the best is reported (15)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    micro = run_all(max(1, args.repeat))
    print(format_table(micro))
    if args.json:
        Path(args.json).write_text(json.dumps(micro, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
