"""Micro-benchmarks of the codec path, without HTTP: µs per operation, best of N repeats.

    python -m bench.micro [--repeat 15] [--json FILE]

Request side: a ~0.8 KB v1 task document (description, detail, category, owner, dueDateTime)
parsed + XSD-validated (``xml_codec.decode_task``) and translated to the v2 body
(``translate.tasks.task_to_v2`` with owner/category id maps and a ZoneInfo given). Response
side: 100 v2 tasks (the canned upstream's, bench/canned.py) translated with ``task_to_v1`` and
rendered with ``xml_codec.encode_tasks``, reported render-only and translate+render. The JSON
variants use ``json_codec``. Each figure is timeit's best of ``--repeat`` runs of about 50 ms
each, so it approximates the cost on an idle core; a loaded machine only adds noise upward.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

import orjson

from proxy.translate import tasks as translate
from proxy.translate import users as translate_users
from proxy.v1 import json_codec, xml_codec

from .canned import CATEGORIES, USERS, make_task

ZONE = ZoneInfo("America/New_York")
OWNER_IDS = translate_users.owner_ids(USERS)
CATEGORY_IDS = translate_users.category_ids(CATEGORIES)

DETAIL = ("Follow up on the renewal quote sent last week. They asked about volume pricing for "
          "the second site, whether the support tier can be switched mid-term, and how the "
          "invoice schedule changes if they move to annual billing. Bring the signed order form "
          "from March, the revised price list and the onboarding plan for the new team. "
          "Remember: the finance contact is only in on Tuesdays and Thursdays, and the "
          "legal team wants the data-processing addendum countersigned before the renewal date.")
V1_TASK_FIELDS = {
    "description": "Call Eric about the renewal of the CRM System contract",
    "detail": DETAIL,
    "category": "Call",
    "owner": "phillip",
    "dueDateTime": "2026-04-21T15:00:00Z",
}
TASK_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<task>\n'
            + "".join(f"  <{k}>{v}</{k}>\n" for k, v in V1_TASK_FIELDS.items())
            + "</task>\n").encode("utf-8")
TASK_JSON = orjson.dumps({"task": V1_TASK_FIELDS})

V2_TASKS = [make_task(n) for n in range(1, 101)]
V2_PAGE = orjson.dumps({"tasks": V2_TASKS})
V1_TASKS = [translate.task_to_v1(task, zone=ZONE) for task in V2_TASKS]
V2_ONE = V2_TASKS[9]  # task 10: party, owner, category and a dueTime


def _to_v2(v1: dict[str, str]) -> dict[str, Any]:
    return translate.task_to_v2(v1, zone=ZONE, owner_ids=OWNER_IDS, category_ids=CATEGORY_IDS,
                                creating=True)


def xml_task_decode() -> dict[str, str]:
    return xml_codec.decode_task(TASK_XML)


def xml_task_decode_translate() -> dict[str, Any]:
    return _to_v2(xml_codec.decode_task(TASK_XML))


def json_task_decode_translate() -> dict[str, Any]:
    return _to_v2(json_codec.decode_task(TASK_JSON))


def xml_task_translate_render() -> bytes:
    return xml_codec.encode_task(translate.task_to_v1(V2_ONE, zone=ZONE))


def xml_list100_render() -> bytes:
    return xml_codec.encode_tasks(V1_TASKS)


def xml_list100_translate_render() -> bytes:
    return xml_codec.encode_tasks([translate.task_to_v1(task, zone=ZONE) for task in V2_TASKS])


def xml_list100_from_v2_bytes() -> bytes:
    tasks = orjson.loads(V2_PAGE)["tasks"]
    return xml_codec.encode_tasks([translate.task_to_v1(task, zone=ZONE) for task in tasks])


def json_list100_render() -> bytes:
    return json_codec.encode_tasks(V1_TASKS)


def json_list100_translate_render() -> bytes:
    return json_codec.encode_tasks([translate.task_to_v1(task, zone=ZONE) for task in V2_TASKS])


# name -> (function, what it measures, target in µs or None)
BENCHMARKS: dict[str, tuple[Callable[[], Any], str, float | None]] = {
    "xml_task_decode": (xml_task_decode, "XML task: parse + XSD validate", None),
    "xml_task_decode_translate": (xml_task_decode_translate,
                                  "XML task: parse + validate + task_to_v2", 20.0),
    "json_task_decode_translate": (json_task_decode_translate,
                                   "v1 JSON task: decode + validate + task_to_v2", None),
    "xml_task_translate_render": (xml_task_translate_render, "one task: task_to_v1 + XML render", None),
    "xml_list100_render": (xml_list100_render, "100-task XML list: render only", None),
    "xml_list100_translate_render": (xml_list100_translate_render,
                                     "100-task XML list: task_to_v1 x100 + render", 1000.0),
    "xml_list100_from_v2_bytes": (xml_list100_from_v2_bytes,
                                  "100-task XML list from v2 page bytes (orjson.loads + above)", None),
    "json_list100_render": (json_list100_render, "100-task v1 JSON list: render only", None),
    "json_list100_translate_render": (json_list100_translate_render,
                                      "100-task v1 JSON list: task_to_v1 x100 + render", None),
}


def sanity_check() -> None:
    """The inputs decode and the outputs look right, so the timings time real work."""
    body = xml_task_decode_translate()
    assert body["category"] == {"id": 1} and body["owner"] == {"id": 1} and "dueTime" in body, body
    assert json_task_decode_translate() == body
    assert xml_list100_translate_render().count(b"<task>") == 100
    assert xml_list100_render() == xml_list100_translate_render() == xml_list100_from_v2_bytes()
    assert json_list100_render() == json_list100_translate_render()


def measure(function: Callable[[], Any], repeat: int = 15, run_time: float = 0.05) -> float:
    """Best of `repeat` runs of about `run_time` seconds each, in µs per call. Many short runs
    rather than a few long ones: on a shared machine the best short run is the likeliest to
    have had the core to itself."""
    timer = timeit.Timer(function)
    number, elapsed = timer.autorange()
    number = max(1, int(number * run_time / max(elapsed, 1e-9)))
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def run_all(repeat: int = 15) -> dict[str, Any]:
    sanity_check()
    results = {}
    for name, (function, what, target) in BENCHMARKS.items():
        results[name] = {"us_per_op": round(measure(function, repeat), 2), "what": what,
                         "target_us": target}
    return {"repeat": repeat, "task_xml_bytes": len(TASK_XML), "task_json_bytes": len(TASK_JSON),
            "list_xml_bytes": len(xml_list100_render()), "v2_page_bytes": len(V2_PAGE),
            "results": results}


def format_table(micro: dict[str, Any]) -> str:
    lines = [f"micro-benchmarks (best of {micro['repeat']}; task document {micro['task_xml_bytes']} B XML / "
             f"{micro['task_json_bytes']} B JSON; 100-task XML list {micro['list_xml_bytes']} B; "
             f"v2 page {micro['v2_page_bytes']} B)",
             f"  {'benchmark':<32} {'µs/op':>10}  {'target':>10}  what"]
    for name, row in micro["results"].items():
        target = row["target_us"]
        verdict = "" if target is None else (
            f"≤{target:g} {'PASS' if row['us_per_op'] <= target else 'MISS'}")
        lines.append(f"  {name:<32} {row['us_per_op']:>10.2f}  {verdict:>10}  {row['what']}")
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
