"""The recorded v1 party XML (ahmedrb, April 2011) and the v1 party JSON (mattbeedle) round-trip
through the codec with the same shape."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from lxml import etree

from proxy.v1 import codec, json_codec, xml_codec

from .test_real_fixtures import _xml_bodies

RECORDED = ["ahmedrb--vcr-person_find_by_id.yml", "ahmedrb--vcr-person_find_all.yml",
            "ahmedrb--vcr-person_find_all_with_limit.yml", "ahmedrb--vcr-person_find_all_with_offset.yml",
            "ahmedrb--vcr-update_person.yml", "ahmedrb--vcr-update_person_without_changes.yml",
            "ahmedrb--vcr-create_person.yml"]
ROOTS = ("person", "organisation", "parties")


def shape(element: etree._Element) -> list:
    """Tags, texts and attributes in document order: what "the same shape" means here."""
    return [(el.tag, (el.text or "").strip(), sorted(el.attrib.items())) for el in element.iter()]


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_xml_round_trips(v1_real: Path, name: str):
    bodies = _xml_bodies(v1_real / name)
    assert bodies
    for body in bodies:
        original = etree.fromstring(body, xml_codec.PARSER)
        if original.tag == "parties":
            root, items = xml_codec.decode_list(body, ROOTS)
            again = xml_codec.encode_list(root, items)
        else:
            root, record = xml_codec.decode(body, ROOTS)
            again = xml_codec.encode(root, record)
        assert shape(etree.fromstring(again, xml_codec.PARSER)) == shape(original)


def test_the_recorded_street_keeps_its_line_break(v1_real: Path):
    body = next(b for b in _xml_bodies(v1_real / "ahmedrb--vcr-update_person.yml") if b"Whitehall" in b)
    _, person = xml_codec.decode(body, ROOTS)
    assert person["contacts"]["address"][0]["street"] == "Deputy Prime Minister's Office\r\n70 Whitehall"
    assert b"Office&#13;\n70 Whitehall" in xml_codec.encode("person", person)


@pytest.mark.parametrize("name", ["mattbeedle--person.json", "mattbeedle--organisation.json"])
def test_json_records_round_trip(v1_real: Path, name: str):
    raw = orjson.loads((v1_real / name).read_bytes())
    root, record = json_codec.decode((v1_real / name).read_bytes(), ROOTS)
    assert orjson.loads(json_codec.encode(root, record)) == raw


@pytest.mark.parametrize("name", ["mattbeedle--all_parties.json", "mattbeedle--all_people.json",
                                  "mattbeedle--single_person.json", "mattbeedle--no_parties.json"])
def test_json_lists_round_trip(v1_real: Path, name: str):
    raw = orjson.loads((v1_real / name).read_bytes())
    root, items = json_codec.decode_list((v1_real / name).read_bytes(), ("parties",))
    again = orjson.loads(json_codec.encode_list(root, items))
    assert again["parties"].pop("@size") == str(len(items))      # every list root carries its size
    raw["parties"].pop("@size", None)
    assert again == raw


def test_a_mixed_list_is_grouped_in_json_and_ordered_in_xml():
    items = [("person", {"id": "1"}), ("organisation", {"id": "2"}), ("person", {"id": "3"})]
    assert orjson.loads(codec.encode_list("parties", items, codec.JSON)) == {
        "parties": {"@size": "3", "person": [{"id": "1"}, {"id": "3"}], "organisation": {"id": "2"}}}
    assert codec.encode_list("parties", items).endswith(
        b'<parties size="3"><person><id>1</id></person><organisation><id>2</id></organisation>'
        b"<person><id>3</id></person></parties>")
