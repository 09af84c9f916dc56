"""Encoding responses: v1 XML and v1 JSON."""

from __future__ import annotations

import json

import orjson
import pytest
from lxml import etree

from .codecs import codec, json_codec, xml_codec
from proxy.v1.documents import xml_safe

from .helpers import FULL_TASK

DECL = b'<?xml version="1.0" encoding="UTF-8"?>'


def lxml_reference(root: str, children: list[tuple[str, object]], attrs: dict[str, str] | None = None) -> bytes:
    """What lxml itself writes for the same content (the encoders must match it byte for byte)."""
    element = etree.Element(root, attrs or {})
    for key, value in children:
        text = xml_safe(str(value)) if value is not None else ""
        if text:
            etree.SubElement(element, key).text = text
    return DECL + etree.tostring(element, encoding="UTF-8")


# -- XML -------------------------------------------------------------------------------------

def test_task_declaration_and_order():
    out = xml_codec.encode_task({"id": "100", "description": "Meet", "dueDateTime": "2012-02-24T15:00:00Z"})
    assert out == (DECL + b"<task><id>100</id><description>Meet</description>"
                   b"<dueDateTime>2012-02-24T15:00:00Z</dueDateTime></task>")
    assert out.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


def test_order_is_the_dicts_not_the_schemas():
    out = xml_codec.encode_task({"partyId": "1", "description": "d", "id": "2"})
    assert out == DECL + b"<task><partyId>1</partyId><description>d</description><id>2</id></task>"


def test_empty_values_are_left_out_entirely():
    out = xml_codec.encode_task({"id": "1", "detail": "", "category": None, "owner": "a"})
    assert out == DECL + b"<task><id>1</id><owner>a</owner></task>"
    assert xml_codec.encode_task({"detail": "", "category": None}) == DECL + b"<task/>"
    assert b"<detail" not in out and b"<category" not in out


def test_int_values():
    assert xml_codec.encode_task({"id": 100, "partyId": 1}) == DECL + b"<task><id>100</id><partyId>1</partyId></task>"


@pytest.mark.parametrize("value, written", [
    ("a < b & c > d", b"a &lt; b &amp; c &gt; d"),
    ("\"double\" and 'single'", b"\"double\" and 'single'"),
    ("]]>", b"]]&gt;"),
    ("&amp;", b"&amp;amp;"),
    ("line\r\nbreak", b"line&#13;\nbreak"),
    ("tab\there", b"tab\there"),
    ("caf\u00e9 \U0001F600", "caf\u00e9 \U0001F600".encode()),
    ("bell\x07 nul\x00 esc\x1b", b"bell nul esc"),           # control characters are removed
    ("bad\ufffe\uffff end", b"bad end"),
    ("lone \ud800 surrogate", b"lone  surrogate"),
    ("\x7f\x85", "\x7f\x85".encode()),                        # allowed in XML 1.0, kept
])
def test_escaping_and_unsafe_characters(value, written):
    out = xml_codec.encode_task({"description": value})
    assert out == DECL + b"<task><description>" + written + b"</description></task>"
    assert out == lxml_reference("task", [("description", value)])
    etree.fromstring(out)   # well-formed


def test_a_value_made_only_of_unsafe_characters_is_left_out():
    assert xml_codec.encode_task({"description": "\x01\x02", "id": "1"}) == DECL + b"<task><id>1</id></task>"


def test_full_task_matches_lxml_and_validates():
    out = xml_codec.encode_task(FULL_TASK)
    assert out == lxml_reference("task", list(FULL_TASK.items()))
    assert xml_codec.decode_task(out) == FULL_TASK


def test_tasks_list():
    tasks = [{"id": "1", "description": "a"}, {"id": "2", "description": "b & c"}]
    out = xml_codec.encode_tasks(tasks)
    assert out == (DECL + b'<tasks size="2"><task><id>1</id><description>a</description></task>'
                   b"<task><id>2</id><description>b &amp; c</description></task></tasks>")
    assert xml_codec.decode_tasks(out) == tasks
    assert xml_codec.encode_tasks([]) == DECL + b'<tasks size="0"/>'
    assert xml_codec.encode_tasks(iter([{"id": "1"}])) == DECL + b'<tasks size="1"><task><id>1</id></task></tasks>'
    assert xml_codec.encode_tasks([{}]) == DECL + b'<tasks size="1"><task/></tasks>'


def test_hundred_tasks_validate():
    tasks = [dict(FULL_TASK, id=str(i + 1)) for i in range(100)]
    out = xml_codec.encode_tasks(tasks)
    assert out.count(b"<task>") == 100 and b'<tasks size="100">' in out
    assert xml_codec.decode_tasks(out) == tasks


def test_users():
    users = [{"username": "phillip", "name": "Phillip Smith", "currency": "GBP", "timezone": "Europe/London",
              "loggedIn": "true", "partyId": "5"}, {"username": "eric", "name": "Eric", "loggedIn": None}]
    out = xml_codec.encode_users(users)
    assert out.startswith(DECL + b'<users size="2"><user><username>phillip</username>')
    assert b"<loggedIn>" not in out.split(b"<user>")[2]
    assert xml_codec.decode_users(out) == [users[0], {"username": "eric", "name": "Eric"}]
    assert xml_codec.encode_users([]) == DECL + b'<users size="0"/>'


def test_categories():
    out = xml_codec.encode_categories(["Call", "", "Follow-up", "R&D"])
    assert out == (DECL + b'<taskCategories size="3"><taskCategory>Call</taskCategory><taskCategory>Follow-up'
                   b"</taskCategory><taskCategory>R&amp;D</taskCategory></taskCategories>")
    assert xml_codec.decode_categories(out) == ["Call", "Follow-up", "R&D"]
    assert xml_codec.encode_categories([]) == DECL + b'<taskCategories size="0"/>'


def test_error():
    out = xml_codec.encode_error("unknown element <colour> in <task>")
    assert out == DECL + b"<error><message>unknown element &lt;colour&gt; in &lt;task&gt;</message></error>"
    assert xml_codec.decode_error(out) == "unknown element <colour> in <task>"
    assert xml_codec.encode_error("") == DECL + b"<error><message>error</message></error>"


@pytest.mark.parametrize("encode", [xml_codec.encode_task, json_codec.encode_task])
def test_programming_errors(encode):
    with pytest.raises(TypeError):
        encode({"id": 1.5})
    with pytest.raises(TypeError):
        encode({"description": True})


# -- JSON ------------------------------------------------------------------------------------

def test_json_task():
    out = json_codec.encode_task({"id": 100, "description": "Meet", "detail": "", "category": None})
    assert out == b'{"task":{"id":"100","description":"Meet"}}'


def test_json_lists_follow_the_one_element_rule():
    one, two = {"id": "1"}, {"id": "2"}
    assert orjson.loads(json_codec.encode_tasks([])) == {"tasks": {"@size": "0"}}
    assert orjson.loads(json_codec.encode_tasks([one])) == {"tasks": {"@size": "1", "task": {"id": "1"}}}
    assert orjson.loads(json_codec.encode_tasks([one, two])) == {
        "tasks": {"@size": "2", "task": [{"id": "1"}, {"id": "2"}]}}
    assert orjson.loads(json_codec.encode_tasks([], always_list=True)) == {"tasks": {"@size": "0", "task": []}}
    assert orjson.loads(json_codec.encode_tasks([one], always_list=True)) == {
        "tasks": {"@size": "1", "task": [{"id": "1"}]}}
    assert list(orjson.loads(json_codec.encode_tasks([one, two]))["tasks"]) == ["@size", "task"]


def test_json_categories_and_users():
    # Every list root carries its size, as mattbeedle's no_users.json and no_categories.json show.
    assert orjson.loads(json_codec.encode_categories(["Call", "Email"])) == {
        "taskCategories": {"@size": "2", "taskCategory": ["Call", "Email"]}}
    assert orjson.loads(json_codec.encode_categories(["Call", ""])) == {
        "taskCategories": {"@size": "1", "taskCategory": "Call"}}
    assert orjson.loads(json_codec.encode_categories([])) == {"taskCategories": {"@size": "0"}}
    assert orjson.loads(json_codec.encode_categories(["Call"], always_list=True)) == {
        "taskCategories": {"@size": "1", "taskCategory": ["Call"]}}
    user = {"username": "a", "partyId": 3}
    assert orjson.loads(json_codec.encode_users([user])) == {
        "users": {"@size": "1", "user": {"username": "a", "partyId": "3"}}}
    assert orjson.loads(json_codec.encode_users([user, user])) == {"users": {"@size": "2", "user": [
        {"username": "a", "partyId": "3"}] * 2}}
    assert orjson.loads(json_codec.encode_users([])) == {"users": {"@size": "0"}}
    assert orjson.loads(json_codec.encode_users([], always_list=True)) == {"users": {"@size": "0", "user": []}}


def test_json_error():
    assert json_codec.encode_error("bad <task>") == b'{"message":"bad <task>"}'
    assert json_codec.encode_error("") == b'{"message":"error"}'


def test_json_values_are_strings_and_safe():
    out = orjson.loads(json_codec.encode_task({"id": 5, "description": 'a "q" \\ <&> \x01\ud800'}))
    assert out == {"task": {"id": "5", "description": 'a "q" \\ <&> '}}
    assert all(isinstance(v, str) for v in out["task"].values())


def test_json_output_decodes_to_the_same_neutral_form():
    assert json_codec.decode_task(json_codec.encode_task(FULL_TASK)) == FULL_TASK
    tasks = [dict(FULL_TASK, id=str(i)) for i in range(1, 4)]
    for always_list in (False, True):
        for count in (0, 1, 3):
            assert json_codec.decode_tasks(json_codec.encode_tasks(tasks[:count], always_list=always_list)) == \
                tasks[:count]
    assert json_codec.decode_categories(json_codec.encode_categories(["A", "B"])) == ["A", "B"]
    assert json_codec.decode_error(json_codec.encode_error("x")) == "x"


def test_codec_dispatch():
    assert codec.encode_task({"id": 1}) == xml_codec.encode_task({"id": 1})
    assert codec.encode_task({"id": 1}, codec.JSON) == json_codec.encode_task({"id": 1})
    assert codec.encode_tasks([{"id": 1}], codec.JSON, always_list=True) == b'{"tasks":{"@size":"1","task":[{"id":"1"}]}}'
    assert codec.encode_tasks([{"id": 1}], codec.XML, always_list=True) == xml_codec.encode_tasks([{"id": 1}])
    assert codec.encode_users([], codec.JSON) == b'{"users":{"@size":"0"}}'
    assert codec.encode_categories(["A"]) == xml_codec.encode_categories(["A"])
    assert codec.encode_categories(["A"], codec.JSON) == b'{"taskCategories":{"@size":"1","taskCategory":"A"}}'
    assert json.loads(codec.encode_error("x", codec.JSON)) == {"message": "x"}
    assert codec.encode_error("x") == xml_codec.encode_error("x")
