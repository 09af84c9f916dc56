"""The XSD files against the Python field lists, and choosing XML or JSON from HTTP headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from proxy.v1.codec import JSON, XML, content_type, request_format, response_format
from proxy.v1.documents import BadDocument, DocumentError, DocumentTooLarge, UnsupportedMediaType
from proxy.v1.schemas import KINDS, SCHEMA_DIR, SIMPLE_TYPES, STRUCTURE, TYPE_RULES, schema_path
from tests.tables import TASK_FIELDS, USER_FIELDS

from .codecs import codec
from .helpers import rejects

decode_task = codec.decode_task
ROOT = Path(__file__).resolve().parents[2]


def test_schemas_come_from_the_repository():
    assert SCHEMA_DIR == ROOT / "schemas"
    for kind in KINDS:
        assert schema_path(kind).is_file()
        etree.XMLSchema(etree.parse(str(schema_path(kind))))   # each compiles on its own


def test_the_xsds_and_the_field_lists_agree():
    roots = STRUCTURE.roots
    assert tuple(roots["task"].children) == TASK_FIELDS
    assert set(roots["users"].children["user"].children) == set(USER_FIELDS)
    assert tuple(roots["tasks"].children) == ("task",)
    assert roots["tasks"].children["task"] is roots["task"]          # one Task type, shared
    assert tuple(roots["users"].children) == ("user",)
    assert tuple(roots["taskCategories"].children) == ("taskCategory",)
    assert tuple(roots["error"].children) == ("message",)
    for name in ("tasks", "users", "taskCategories"):
        assert roots[name].attributes == {"size": "Count"}
    assert not roots["task"].attributes and not roots["error"].attributes


def test_types():
    task = STRUCTURE.roots["task"].children
    types = {name: decl.leaf_type for name, decl in task.items()}
    assert {n for n in TASK_FIELDS if types[n] == "OptionalId"} == {"id", "partyId", "opportunityId", "caseId"}
    assert {n for n in TASK_FIELDS if types[n] == "Stamp"} == {"dueDateTime", "createdOn", "updatedOn", "completedOn"}
    assert types["dueDate"] == "DueDate"
    assert types["status"] == "Text"
    assert set(types.values()) <= set(TYPE_RULES) and set(types.values()) <= set(SIMPLE_TYPES)


def test_every_task_child_is_optional_and_single():
    xs = "{http://www.w3.org/2001/XMLSchema}"
    common = etree.parse(str(SCHEMA_DIR / "common.xsd"))
    task_type = common.find(f"{xs}complexType[@name='Task']")
    group = task_type.find(f"{xs}all")
    assert group is not None
    for element in group:
        assert element.get("minOccurs") == "0" and element.get("maxOccurs", "1") == "1"


def test_error_classes():
    assert issubclass(BadDocument, DocumentError) and BadDocument("x").status == 400
    assert DocumentTooLarge("x").status == 413
    assert UnsupportedMediaType("x").status == 415
    error = DocumentError("custom", 422)
    assert (error.status, error.message, str(error)) == (422, "custom", "custom")
    assert "BadDocument(400, 'x')" == repr(BadDocument("x"))


@pytest.mark.parametrize("header, expected", [
    (None, (XML, None)),
    ("", (XML, None)),
    ("application/xml", (XML, None)),
    ("text/xml", (XML, None)),
    ("Application/XML; charset=UTF-8", (XML, "UTF-8")),
    ('text/xml; charset="iso-8859-1"', (XML, "iso-8859-1")),
    ("application/atom+xml", (XML, None)),
    ("*/*", (XML, None)),
    ("text/plain; charset=UTF-8", (XML, "UTF-8")),
    ("application/x-www-form-urlencoded", (XML, None)),
    ("application/octet-stream", (XML, None)),
    ("application/json", (JSON, None)),
    ("application/json; charset=utf-8", (JSON, "utf-8")),
    ("text/json", (JSON, None)),
    ("application/vnd.api+json", (JSON, None)),
])
def test_request_format(header, expected):
    assert request_format(header) == expected


@pytest.mark.parametrize("header", ["multipart/form-data; boundary=x", "text/html", "image/png",
                                    "application/json; charset=iso-8859-1", "application/yaml"])
def test_unsupported_request_types(header):
    rejects(request_format, header, status=415)
    rejects(decode_task, b"<task/>", header, status=415)


@pytest.mark.parametrize("header, expected", [
    (None, XML), ("", XML), ("*/*", XML), ("application/xml", XML), ("text/html", XML),
    ("application/json", JSON), ("application/json, text/javascript, */*; q=0.01", JSON),
    ("application/xml, application/json;q=0.5", XML), ("application/json;q=0.9, application/xml;q=0.5", JSON),
    ("application/json;q=0", XML), ("application/json;q=abc", XML), ("text/json", JSON),
])
def test_response_format(header, expected):
    assert response_format(header) == expected


def test_content_types():
    assert content_type(XML) == "application/xml; charset=utf-8"
    assert content_type(JSON) == "application/json; charset=utf-8"


def test_decode_task_dispatches_on_content_type():
    assert decode_task(b"<task><id>1</id></task>") == {"id": "1"}
    assert decode_task(b"<task><id>1</id></task>", "text/xml") == {"id": "1"}
    assert decode_task(b'{"task": {"id": 1}}', "application/json") == {"id": "1"}
    assert decode_task("<task><description>caf\u00e9</description></task>".encode("latin-1"),
                       "text/xml; charset=ISO-8859-1") == {"description": "caf\u00e9"}
    assert "malformed JSON" in rejects(decode_task, b"<task/>", "application/json")
    assert "not an XML document" in rejects(decode_task, b'{"task": {}}', "application/xml")
    rejects(decode_task, b"<task/>", "application/xml", status=413, max_bytes=3)
    rejects(decode_task, b'{"task": {}}', "application/json", status=413, max_bytes=3)
