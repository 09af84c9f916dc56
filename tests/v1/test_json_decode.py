"""Decoding v1 JSON bodies: the same rules as XML, the same XSD."""

from __future__ import annotations

import json
import random

import pytest

from tests.tables import TASK_READ_ONLY_FIELDS

from .codecs import json_codec

from .helpers import FULL_TASK, rejects


def body(task: object) -> bytes:
    return json.dumps({"task": task}).encode()


def test_a_full_task_in_document_order():
    decoded = json_codec.decode_task(body(FULL_TASK))
    assert decoded == FULL_TASK and list(decoded) == list(FULL_TASK)


@pytest.mark.parametrize("seed", range(10))
def test_any_key_order(seed):
    items = list(FULL_TASK.items())
    random.Random(seed).shuffle(items)
    assert list(json_codec.decode_task(body(dict(items)))) == [k for k, _ in items]


@pytest.mark.parametrize("name", TASK_READ_ONLY_FIELDS)
def test_each_read_only_field_is_accepted(name):
    assert json_codec.decode_task(body({name: FULL_TASK[name]})) == {name: FULL_TASK[name]}


@pytest.mark.parametrize("task, expected", [
    ({"id": 100, "partyId": 1}, {"id": "100", "partyId": "1"}),          # numbers for ids
    ({"description": "a", "category": None}, {"description": "a"}),     # null = absent
    ({"description": "  Meet \n"}, {"description": "  Meet \n"}),     # free text as sent, as XML
    ({"id": " 12 "}, {"id": "12"}),                                   # typed values stripped, as XML
    ({"detail": "line 1\nline 2"}, {"detail": "line 1\nline 2"}),
    ({"detail": ""}, {"detail": ""}),
    ({"dueDate": "2012-02-24"}, {"dueDate": "2012-02-24"}),   # capsule_crm's plain date: T1 reads it
    ({"description": "<b>&amp;</b>"}, {"description": "<b>&amp;</b>"}),  # no XML meaning in JSON
    ({"description": "caf\u00e9 \U0001F600"}, {"description": "caf\u00e9 \U0001F600"}),
    ({"description": 5}, {"description": "5"}),
    ({}, {}),
])
def test_values(task, expected):
    assert json_codec.decode_task(body(task)) == expected


def test_bom_and_whitespace_around_the_document():
    assert json_codec.decode_task(b'\xef\xbb\xbf \n{"task": {"id": "1"}}\n ') == {"id": "1"}


@pytest.mark.parametrize("raw, expected", [
    (b'{"task": {"colour": "red"}}', 'unknown field "colour" in "task"'),
    (b'{"task": {"colour": "red", "size": 1, "description": "x"}}', 'unknown fields "colour", "size" in "task"'),
    (b'{"task": {"@size": "1"}}', 'unknown field "@size" in "task"'),
    (b'{"task": {"description": "a", "description": "b"}}', '"description" appears twice in "task"'),
    (b'{"task": {"description": null, "description": "b"}}', '"description" appears twice in "task"'),
    (b'{"task": {"id": "1", "id": "1", "id": "1"}}', '"id" appears 3 times in "task"'),
    (b'{"task": {"partyId": "abc"}}', "\"partyId\" must be a positive integer, got 'abc'"),
    (b'{"task": {"partyId": 0}}', "\"partyId\" must be a positive integer, got '0'"),
    (b'{"task": {"partyId": -1}}', "\"partyId\" must be a positive integer, got '-1'"),
    (b'{"task": {"id": 12345678901234567890123}}', '"id" must be a positive integer'),
    (b'{"task": {"dueDateTime": "tomorrow"}}', "\"dueDateTime\" must be an ISO-8601 date-time"),
    (b'{"task": {"dueDateTime": 20120224}}', "\"dueDateTime\" must be an ISO-8601 date-time"),
    (b'{"task": {"partyId": true}}', '"partyId" must be a string, got a boolean'),
    (b'{"task": {"id": 1.5}}', '"id" must be a string, got a fractional number'),
    (b'{"task": {"id": 1e3}}', '"id" must be a string, got a fractional number'),
    (b'{"task": {"description": ["a"]}}', '"description" must be a string, got an array'),
    (b'{"task": {"description": {"text": "a"}}}', '"description" must be a string, got an object'),
    (b'{"task": {"description": "\\u0001"}}', '"description" contains the character U+0001'),
    (b'{"task": {"description": "\\ud800"}}', '"description" contains the character U+D800'),
    (b'{"task": {"description": "\\uffff"}}', '"description" contains the character U+FFFF'),
    (b'{"task": []}', '"task" must be an object, got an array'),
    (b'{"task": "x"}', '"task" must be an object, got a string'),
    (b'{"task": null}', '"task" must be an object, got null'),
    (b'{"tasks": {}}', 'expected a {"task": {...}} document, got "tasks"'),
    (b"{}", 'expected a {"task": {...}} document, got an empty object'),
    (b'{"task": {}, "extra": 1}', 'unknown field "extra" beside "task"'),
    (b'{"task": {}, "task": {}}', '"task" appears 2 times in the document'),
    (b"[]", "expected a JSON object, got an array"),
    (b'"task"', "expected a JSON object, got a string"),
    (b"null", "expected a JSON object, got null"),
    (b"", "empty"),
    (b"  \n", "empty"),
    (b"{", "malformed JSON"),
    (b'{"task": {}} x', "malformed JSON: Extra data"),
    (b"{'task': {}}", "malformed JSON"),
    (b'{"task": {"id": NaN}}', "malformed JSON: NaN is not valid JSON"),
    (b'{"task": {"id": Infinity}}', "malformed JSON"),
    (b'{"task": {"id": 1' + b"0" * 5000 + b"}}", "malformed JSON"),
    (b'{"task": {"description": "\xff"}}', "not valid UTF-8 (byte 0xFF at offset 26)"),
    (b'\xef\xbb\xbf{"task": {"description": "\xff"}}', "not valid UTF-8 (byte 0xFF at offset 29)"),
    (b"<task/>", "malformed JSON"),
])
def test_invalid_json(raw, expected):
    assert expected in rejects(json_codec.decode_task, raw)


def test_deep_nesting():
    assert "nested too deeply" in rejects(json_codec.decode_task, b"[" * 100_000 + b"]" * 100_000)
    deep_value = b'{"task": {"description": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}}"
    message = rejects(json_codec.decode_task, deep_value)
    assert "nested too deeply" in message or "must be a string" in message


def test_size_limit():
    big = body({"description": "x" * (10 * 1024 * 1024)})
    rejects(json_codec.decode_task, big, status=413)
    rejects(json_codec.decode_task, body({"id": "1"}), status=413, max_bytes=10)


def test_other_document_kinds():
    assert json_codec.decode_tasks(b'{"tasks": {"@size": "0"}}') == []
    assert json_codec.decode_tasks(b'{"tasks": {"@size": "1", "task": {"id": "1"}}}') == [{"id": "1"}]
    assert json_codec.decode_tasks(b'{"tasks": {"task": [{"id": "1"}, {"id": 2}]}}') == [{"id": "1"}, {"id": "2"}]
    assert json_codec.decode_tasks(b'{"tasks": {"@size": 0, "task": []}}') == []
    assert '"@size" in "tasks" says 2' in rejects(json_codec.decode_tasks, b'{"tasks": {"@size": "2", "task": {}}}')
    assert "\"@size\" in \"tasks\" must be a non-negative integer, got 'x'" in rejects(
        json_codec.decode_tasks, b'{"tasks": {"@size": "x"}}')
    assert '"@size" appears twice in "tasks"' in rejects(
        json_codec.decode_tasks, b'{"tasks": {"@size": "0", "@size": "0"}}')
    assert 'unknown field "@count" in "tasks"' in rejects(json_codec.decode_tasks, b'{"tasks": {"@count": "0"}}')
    assert '"task" must be an object, got a string' in rejects(json_codec.decode_tasks, b'{"tasks": {"task": ["x"]}}')
    assert json_codec.decode_users(b'{"users": {"user": {"username": "a", "loggedIn": "true"}}}') == [
        {"username": "a", "loggedIn": "true"}]
    assert json_codec.decode_categories(b'{"taskCategories": {"taskCategory": "Call"}}') == ["Call"]
    assert json_codec.decode_categories(b'{"taskCategories": {}}') == []
    assert '"taskCategory" must be a string, got an object' in rejects(
        json_codec.decode_categories, b'{"taskCategories": {"taskCategory": [{}]}}')
    assert json_codec.decode_error(b'{"message": "Nope"}') == "Nope"
    assert '"error" must contain "message"' in rejects(json_codec.decode_error, b"{}")
