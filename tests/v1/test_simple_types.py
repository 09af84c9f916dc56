"""JSON bodies are checked by the XSDs' simple types compiled to Python (decision D3). Those checks
must say what lxml says for every type, or XML and JSON would accept different documents."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from proxy.v1.schemas import SCHEMA_DIR, SIMPLE_TYPES

_XS = "http://www.w3.org/2001/XMLSchema"
# Characters XML 1.0 can carry, biased towards the ones the types' patterns are about.
_ALPHABET = st.one_of(st.sampled_from("0123456789-+:.,TtZz \t\n truefalsTRUE"),
                      st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_categories=("Cs",)))
VALUES = st.text(_ALPHABET, max_size=40)


def _schema_for(type_name: str) -> etree.XMLSchema:
    doc = (f'<xs:schema xmlns:xs="{_XS}"><xs:include schemaLocation="{SCHEMA_DIR / "common.xsd"}"/>'
           f'<xs:element name="v" type="{type_name}"/></xs:schema>')
    return etree.XMLSchema(etree.fromstring(doc.encode(), base_url=str(SCHEMA_DIR) + "/"))


_SCHEMAS = {name: _schema_for(name) for name in SIMPLE_TYPES if not name.startswith("xs:")}


def _lxml_accepts(type_name: str, text: str) -> bool:
    element = etree.Element("v")
    element.text = text
    return bool(_SCHEMAS[type_name](element))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(type_name=st.sampled_from(sorted(_SCHEMAS)), text=VALUES)
@example(type_name="Stamp", text="2012-02-30T10:00:00Z")
@example(type_name="Stamp", text=" 2012-02-24t15:00+0530 ")
@example(type_name="OptionalId", text="  ")
@example(type_name="Id", text="012")
@example(type_name="Decimal", text="1234.50")
@example(type_name="Boolean", text=" true ")
@example(type_name="Name", text="")
def test_the_python_check_agrees_with_lxml(type_name: str, text: str):
    assert SIMPLE_TYPES[type_name](text) is _lxml_accepts(type_name, text), (type_name, text)


def test_every_type_of_every_schema_has_a_check():
    declared = {el.get("name") for path in SCHEMA_DIR.glob("common*.xsd")
                for el in etree.parse(str(path)).getroot() if el.tag == f"{{{_XS}}}simpleType"}
    assert declared <= set(SIMPLE_TYPES)
