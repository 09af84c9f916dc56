"""The v1 JSON envelopes of opportunities, cases, milestones, deleted opportunities, countries,
currencies and tracks (mattbeedle's capsule_crm fixtures, read in place) decode against the XSDs
and encode back to the same shape; as XML they read back identically."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from proxy.resources.opportunity import OPPORTUNITY_SHAPE
from proxy.v1 import json_codec, xml_codec
from proxy.v1.documents import BadDocument

RECORDS = [("mattbeedle--opportunity.json", "opportunity"), ("mattbeedle--case.json", "kase")]
LISTS = [("mattbeedle--all_opportunities.json", "opportunities"), ("mattbeedle--no_opportunities.json", "opportunities"),
         ("mattbeedle--all_cases.json", "kases"), ("mattbeedle--no_cases.json", "kases"),
         ("mattbeedle--all_milestones.json", "milestones"), ("mattbeedle--no_milestones.json", "milestones"),
         ("mattbeedle--deleted_opportunities.json", "deletedOpportunities"),
         ("mattbeedle--all_countries.json", "countries"), ("mattbeedle--no_countries.json", "countries"),
         ("mattbeedle--all_currencies.json", "currencies"), ("mattbeedle--no_currencies.json", "currencies"),
         ("mattbeedle--all_tracks.json", "tracks"), ("mattbeedle--no_tracks.json", "tracks")]


@pytest.mark.parametrize("name, root", RECORDS)
def test_records_round_trip(v1_real: Path, name: str, root: str):
    raw = (v1_real / name).read_bytes()
    decoded_root, record = json_codec.decode(raw, (root,))
    assert decoded_root == root
    assert orjson.loads(json_codec.encode(root, record)) == orjson.loads(raw)
    assert xml_codec.decode(xml_codec.encode(root, record), (root,)) == (root, record)


@pytest.mark.parametrize("name, root", LISTS)
def test_lists_round_trip(v1_real: Path, name: str, root: str):
    raw = orjson.loads((v1_real / name).read_bytes())
    decoded_root, items = json_codec.decode_list((v1_real / name).read_bytes(), (root,))
    assert decoded_root == root
    again = orjson.loads(json_codec.encode_list(root, items))
    assert again[root].pop("@size") == str(len(items))            # every list root carries its size
    raw[root].pop("@size", None)
    if len(items) == 1:            # the proxy writes one element as a bare object, as v1 did (D4)
        again[root] = {key: [value] for key, value in again[root].items()}
    assert again == raw
    assert xml_codec.decode_list(xml_codec.encode_list(root, items), (root,)) == (root, items)


def test_the_fixture_opportunity_is_what_the_proxy_answers_in_shape(v1_real: Path):
    # Same element names and value forms as GET /api/opportunity/{id} writes (test_opportunities).
    _, record = json_codec.decode((v1_real / "mattbeedle--opportunity.json").read_bytes(), ("opportunity",))
    assert record["value"] == "500.00" and record["expectedCloseDate"].endswith("T00:00:00Z")
    assert set(record) <= set(OPPORTUNITY_SHAPE.element_names)


def test_a_json_fraction_is_read_where_the_xsd_wants_a_decimal():
    # capsule_crm writes value as a Ruby Float; elsewhere a fraction is still a 400 (D3).
    _, record = json_codec.decode(b'{"opportunity": {"value": 500.0, "currency": "GBP"}}', ("opportunity",))
    assert record == {"value": "500.0", "currency": "GBP"}
    _, record = json_codec.decode(b'{"opportunity": {"value": 1e-05}}', ("opportunity",))
    assert record == {"value": "0.00001"}
    for body, named in ((b'{"opportunity": {"duration": 1.5}}', '"duration" must be a string'),
                        (b'{"opportunity": {"value": 1e300}}', '"value" must be a decimal number')):
        with pytest.raises(BadDocument) as info:
            json_codec.decode(body, ("opportunity",))
        assert named in str(info.value)
