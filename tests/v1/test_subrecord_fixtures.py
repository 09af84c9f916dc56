"""The recorded v1 tag list (ahmedrb, April 2011) and mattbeedle's v1 JSON for history, tags and
custom fields round-trip through the codec with the same shape."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from lxml import etree

from proxy.v1 import json_codec, xml_codec

from .test_party_fixtures import shape
from .test_real_fixtures import _xml_bodies

LISTS = {"history", "tags", "customFields", "customFieldDefinitions"}


def load(path: Path) -> bytes:
    """The fixture's JSON; mattbeedle's history.json opens with // comment lines."""
    return re.sub(rb"(?m)^//.*$", b"", path.read_bytes())


def test_the_recorded_tag_list_round_trips(v1_real: Path):
    [body] = _xml_bodies(v1_real / "ahmedrb--vcr-party_tags.yml")
    root, items = xml_codec.decode_list(body, ("tags",))
    assert root == "tags" and len(items) == 11 and items[5] == ("tag", {"name": "Professional Services"})
    again = xml_codec.encode_list(root, items)
    assert shape(etree.fromstring(again, xml_codec.PARSER)) == shape(etree.fromstring(body, xml_codec.PARSER))
    assert again.endswith(body[body.index(b"<tags"):])                      # byte for byte after the prolog


@pytest.mark.parametrize("name", ["mattbeedle--history.json"])
def test_a_history_item_round_trips(v1_real: Path, name: str):
    raw = load(v1_real / name)
    root, record = json_codec.decode(raw, ("historyItem",))
    assert record["attachments"]["attachment"] == [{"id": "20", "contentType": "application/msword",
                                                    "filename": "latin.doc"}]
    assert orjson.loads(json_codec.encode(root, record)) == orjson.loads(raw)
    assert xml_codec.decode(xml_codec.encode(root, record), ("historyItem",)) == (root, record)


@pytest.mark.parametrize("name, root", [
    ("mattbeedle--all_history.json", "history"), ("mattbeedle--no_history.json", "history"),
    ("mattbeedle--all_tags.json", "tags"), ("mattbeedle--one_tag.json", "tags"),
    ("mattbeedle--all_customfields.json", "customFields"), ("mattbeedle--no_customfields.json", "customFields"),
    ("mattbeedle--put_customfields.json", "customFields"),
    ("mattbeedle--custom_field_definitions.json", "customFieldDefinitions"),
])
def test_lists_round_trip(v1_real: Path, name: str, root: str):
    raw = orjson.loads(load(v1_real / name))
    found, items = json_codec.decode_list(load(v1_real / name), (root,))
    again = orjson.loads(json_codec.encode_list(found, items))
    assert again[root].pop("@size") == str(len(items))           # every list root carries its size
    raw[root].pop("@size", None)
    assert again == raw
    xml_root, xml_items = xml_codec.decode_list(xml_codec.encode_list(found, items), (root,))
    assert (xml_root, xml_items) == (found, items)


def test_the_put_body_is_a_valid_document(v1_real: Path):
    _, record = json_codec.decode(load(v1_real / "mattbeedle--put_customfields.json"), ("customFields",))
    assert [field["label"] for field in record["customField"]] == ["NI Number", "Start Date", "Send newsletter"]
    assert record["customField"][2]["boolean"] == "true"
