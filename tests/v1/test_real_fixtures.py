"""The real v1 payloads in ../shared/fixtures/v1-real, read in place (never copied here)."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from lxml import etree

from tests.tables import TASK_FIELDS

from .codecs import json_codec, xml_codec

from .helpers import rejects

SINGLE_TASKS = ["mattbeedle--task.json", "philipbrown--get-task.json", "philipbrown--post-task-request.json"]


@pytest.mark.parametrize("name", SINGLE_TASKS)
def test_single_tasks_decode_and_encode_to_the_same_shape(v1_real: Path, name):
    raw = (v1_real / name).read_bytes()
    original = orjson.loads(raw)
    task = json_codec.decode_task(raw)
    assert set(task) <= set(TASK_FIELDS)
    assert task == original["task"]                        # every fixture field is a v1 field
    assert orjson.loads(json_codec.encode_task(task)) == original
    assert list(orjson.loads(json_codec.encode_task(task))["task"]) == list(original["task"])
    # the same task as XML validates and reads back identically
    assert xml_codec.decode_task(xml_codec.encode_task(task)) == task


def test_task_list(v1_real: Path):
    original = orjson.loads((v1_real / "mattbeedle--all_tasks.json").read_bytes())
    tasks = json_codec.decode_tasks((v1_real / "mattbeedle--all_tasks.json").read_bytes())
    assert [t["id"] for t in tasks] == ["100", "101", "102", "103"]
    assert tasks[1]["opportunityName"] == "meeting" and tasks[2]["caseName"] == "I can't think of a good name"
    encoded = orjson.loads(json_codec.encode_tasks(tasks))
    # Same nesting and values; the proxy adds "@size", which this hand-written stub omitted
    # (its own no_tasks.json stub has it, as the real v1 list did).
    assert encoded["tasks"]["task"] == original["tasks"]["task"]
    assert set(encoded["tasks"]) - {"@size"} == set(original["tasks"])
    assert encoded["tasks"]["@size"] == "4"
    assert xml_codec.decode_tasks(xml_codec.encode_tasks(tasks)) == tasks


def test_empty_task_list(v1_real: Path):
    raw = (v1_real / "mattbeedle--no_tasks.json").read_bytes()
    assert json_codec.decode_tasks(raw) == []
    assert orjson.loads(json_codec.encode_tasks([])) == orjson.loads(raw)


def test_categories(v1_real: Path):
    raw = (v1_real / "mattbeedle--all_categories.json").read_bytes()
    names = json_codec.decode_categories(raw)
    assert names == ["Call", "Email", "Follow-up", "Meeting", "Milestone", "Send"]
    written = orjson.loads(json_codec.encode_categories(names))
    assert written["taskCategories"].pop("@size") == "6"      # every list root carries its size
    assert written == orjson.loads(raw)
    assert xml_codec.decode_categories(xml_codec.encode_categories(names)) == names


def test_the_request_fixture_is_a_valid_request_body(v1_real: Path):
    raw = (v1_real / "philipbrown--post-task-request.json").read_bytes()
    from .codecs import codec
    assert codec.decode_task(raw, "application/json") == {"description": "Call customer",
                                                    "dueDateTime": "2012-04-21T15:00:00Z"}


_BODY = re.compile(r"^    body: (?:\|-?\n((?:      .*\n?)+)|(<\?xml.*))$", re.M)


def _xml_bodies(path: Path) -> list[bytes]:
    bodies = []
    for block, inline in _BODY.findall(path.read_text(encoding="utf-8")):
        text = inline or "\n".join(line[6:] for line in block.splitlines())
        if text.strip():
            bodies.append(text.strip().encode("utf-8"))
    return bodies


@pytest.mark.parametrize("name", ["ahmedrb--vcr-create_person.yml", "ahmedrb--vcr-update_person.yml",
                                  "ahmedrb--vcr-person_find_all_with_limit.yml"])
def test_recorded_v1_xml_goes_through_the_hardened_parser(v1_real: Path, name):
    # Recorded v1 wire bodies (parties, not tasks): the hardened parser reads them, and the
    # task decoder refuses them for their root only.
    bodies = _xml_bodies(v1_real / name)
    assert bodies
    for body in bodies:
        root = etree.fromstring(body, xml_codec.PARSER)
        assert root.tag in {"person", "parties"}
        assert f"expected a <task> document, got <{root.tag}>" in rejects(xml_codec.decode_task, body)


def test_recorded_list_root_uses_size_like_ours(v1_real: Path):
    body = _xml_bodies(v1_real / "ahmedrb--vcr-person_find_all_with_limit.yml")[-1]
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><parties size="2">')
    assert xml_codec.encode_tasks([{}, {}]).split(b"?>", 1)[1].startswith(b'<tasks size="2">')
