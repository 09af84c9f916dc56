"""Custom fields on parties, opportunities and cases through the proxy, in XML and v1 JSON
(decisions CF1-CF7).

Demo seed definitions: parties 1 NI Number (text, datatag Staff), 2 Employees (number),
3 Renewal Date (date), 4 Newsletter (boolean), 5 Lead Source (list: website, newsletter,
referral); opportunities 6 Competitor (text); kases 7 Ticket (text). Party 1 has NI Number,
Newsletter (true) and Lead Source; party 2 Employees and Renewal Date; opportunity 1 Competitor;
kase 1 Ticket.
"""

from __future__ import annotations

import pytest

from .conftest import PHILLIP
from .subrecords import as_json, as_list, error, send, v2, xml

DEFINITIONS = "/api/v2/parties/fields/definitions?page=1&perPage=100"
FIELDS = {"party": [("1", "Staff", "NI Number", "text", "AB123456C"), ("3", None, "Newsletter", "boolean", "true"),
                    ("2", None, "Lead Source", "text", "website")],
          "opportunity": [("7", None, "Competitor", "text", "Initech")],
          "kase": [("8", None, "Ticket", "text", "INV-2026-11")]}
KINDS = [("party", 1, "parties"), ("opportunity", 1, "opportunities"), ("kase", 1, "kases")]


def fields_of(element) -> list[tuple]:
    rows = []
    for field in element:
        assert [child.tag for child in field][:1] == ["id"]
        values = [child.tag for child in field if child.tag in ("text", "date", "boolean", "number")]
        assert len(values) == 1, values                 # exactly one value element
        rows.append((field.findtext("id"), field.findtext("tag"), field.findtext("label"), values[0],
                     field.findtext(values[0])))
    return rows


async def values_in_v2(upstream, collection: str, ident: int) -> dict[str, object]:
    record = next(iter((await v2(upstream, "GET", f"/api/v2/{collection}/{ident}?embed=fields,tags")).values()))
    return {field["definition"]["name"]: field["value"] for field in record["fields"]}


def custom_fields(*fields: str) -> str:
    return "<customFields>" + "".join(f"<customField>{f}</customField>" for f in fields) + "</customFields>"


# --- reading -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["customfields", "customfield"])
@pytest.mark.parametrize("kind, parent, collection", KINDS)
async def test_read_each_kinds_values(proxy, recorder, kind, parent, collection, path):
    found = await xml(proxy, f"/api/{kind}/{parent}/{path}")
    assert found.tag == "customFields" and found.get("size") == str(len(FIELDS[kind]))
    assert fields_of(found) == FIELDS[kind]
    # Cold: the record with its values, then the kind's definitions (cached, [cache] reference_ttl).
    assert recorder.paths() == [f"/api/v2/{collection}/{parent}?embed=fields",
                                f"/api/v2/{collection}/fields/definitions?page=1&perPage=100"]
    recorder.clear()
    body = await as_json(proxy, f"/api/{kind}/{parent}/{path}")
    assert recorder.paths() == [f"/api/v2/{collection}/{parent}?embed=fields"]          # warm: one call
    rows = as_list(body["customFields"]["customField"])
    assert body["customFields"]["@size"] == str(len(FIELDS[kind]))
    assert [(r["id"], r.get("tag"), r["label"]) for r in rows] == [f[:3] for f in FIELDS[kind]]
    assert all(isinstance(value, str) for row in rows for value in row.values())


async def test_dates_numbers_and_unticked_booleans(proxy, upstream):
    found = fields_of(await xml(proxy, "/api/party/2/customfields"))
    assert found == [("4", None, "Employees", "number", "250"),
                     ("5", None, "Renewal Date", "date", "2027-03-31T00:00:00Z")]
    await v2(upstream, "PUT", "/api/v2/parties/1", {"party": {"fields": [{"id": 3, "value": False}]}})
    # CF1: a boolean that is not ticked is not listed, as v1 did.
    assert "Newsletter" not in [f[2] for f in fields_of(await xml(proxy, "/api/party/1/customfields"))]
    assert await as_json(proxy, "/api/party/6/customfields") == {"customFields": {"@size": "0"}}


@pytest.mark.parametrize("path, label", [
    ("/api/party/999/customfields", "Employees"), ("/api/opportunity/999/customfield", "Competitor"),
    ("/api/kase/999/customfields", "Ticket"), ("/api/party/abc/customfields", "Employees")])
async def test_a_missing_record_is_404(proxy, path, label):
    await xml(proxy, path, 404)
    await send(proxy, "PUT", path, custom_fields(f"<label>{label}</label><text>1</text>"), 404)
    await send(proxy, "POST", path, custom_fields(f"<label>{label}</label>"), 404)     # a clear reads it first


# --- definitions ---------------------------------------------------------------------------------------

async def test_definitions_of_each_kind(proxy, recorder):
    found = await xml(proxy, "/api/party/customfield/definitions")
    assert found.tag == "customFieldDefinitions" and found.get("size") == "5"
    rows = [(d.findtext("id"), d.findtext("tag"), d.findtext("label"), d.findtext("type"), d.findtext("options"))
            for d in found]
    assert rows == [("1", "Staff", "NI Number", "Text", None), ("2", None, "Employees", "Number", None),
                    ("3", None, "Renewal Date", "Date", None), ("4", None, "Newsletter", "Boolean", None),
                    ("5", None, "Lead Source", "List", "website;newsletter;referral")]
    assert recorder.paths() == [DEFINITIONS]
    body = await as_json(proxy, "/api/opportunity/customfield/definitions")
    assert body == {"customFieldDefinitions": {"@size": "1", "customFieldDefinition": {
        "id": "6", "label": "Competitor", "type": "Text"}}}
    kases = await xml(proxy, "/api/kase/customfield/definitions")
    assert [d.findtext("label") for d in kases] == ["Ticket"]


# --- writing -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["PUT", "POST"])
@pytest.mark.parametrize("path", ["customfields", "customfield"])
async def test_write_every_type_by_label(proxy, upstream, recorder, method, path):
    body = custom_fields("<tag>Staff</tag><label>NI Number</label><text> QQ 12 34 56 C </text>",
                         "<label>employees</label><number>0042.50</number>",          # any letter case
                         "<label>Renewal Date</label><date>2027-01-31T00:00:00Z</date>",
                         "<label>Newsletter</label><boolean>true</boolean>",
                         "<label>Lead Source</label><text>Referral</text>")
    await send(proxy, method, f"/api/party/5/{path}", body)
    # Cold: the definitions, then one PUT of the record; no read of the record (nothing to clear).
    assert recorder.calls == [("GET", DEFINITIONS), ("PUT", "/api/v2/parties/5")]
    assert await values_in_v2(upstream, "parties", 5) == {
        "NI Number": " QQ 12 34 56 C ", "Employees": "42.50", "Renewal Date": "2027-01-31", "Newsletter": True,
        "Lead Source": "referral"}
    found = fields_of(await xml(proxy, f"/api/party/5/{path}"))
    assert [(label, element, value) for _, _, label, element, value in found] == [
        ("NI Number", "text", " QQ 12 34 56 C "), ("Employees", "number", "42.50"),
        ("Renewal Date", "date", "2027-01-31T00:00:00Z"), ("Newsletter", "boolean", "true"),
        ("Lead Source", "text", "referral")]


async def test_write_in_v1_json(proxy, upstream):
    body = {"customFields": {"customField": [
        {"label": "Renewal Date", "date": "2027-06-01"},
        {"label": "Newsletter", "boolean": True}]}}
    await send(proxy, "PUT", "/api/party/6/customfields", body)
    assert await values_in_v2(upstream, "parties", 6) == {"Renewal Date": "2027-06-01", "Newsletter": True}
    one = {"customFields": {"customField": {"label": "Employees", "number": "7"}}}     # one: a bare object
    await send(proxy, "POST", "/api/party/6/customfield", one)
    assert (await values_in_v2(upstream, "parties", 6))["Employees"] == "7"


@pytest.mark.parametrize("kind, parent, collection", KINDS[1:])
async def test_opportunities_and_cases_use_their_own_definitions(proxy, upstream, kind, parent, collection):
    label = FIELDS[kind][0][2]
    await send(proxy, "PUT", f"/api/{kind}/{parent}/customfields", custom_fields(f"<label>{label}</label><text>new</text>"))
    assert await values_in_v2(upstream, collection, parent) == {label: "new"}
    response = await send(proxy, "PUT", f"/api/{kind}/{parent}/customfields",
                          custom_fields("<label>NI Number</label><text>x</text>"), 400)   # a party field
    assert "NI Number" in await error(response)


async def test_an_empty_value_clears_the_field(proxy, upstream, recorder):
    await xml(proxy, "/api/party/customfield/definitions")                    # the definitions are cached
    recorder.clear()
    await send(proxy, "PUT", "/api/party/1/customfields",
               custom_fields("<tag>Staff</tag><label>NI Number</label><text></text>",
                             "<label>Lead Source</label>",                     # no value at all: cleared too
                             "<label>Newsletter</label><boolean/>"))           # a boolean is unticked (CF5)
    # Clearing needs the stored values' ids: the record is read first (warm: two calls).
    assert recorder.calls == [("GET", "/api/v2/parties/1?embed=fields"), ("PUT", "/api/v2/parties/1")]
    assert await values_in_v2(upstream, "parties", 1) == {"Newsletter": False}
    assert fields_of(await xml(proxy, "/api/party/1/customfields")) == []
    recorder.clear()
    await send(proxy, "PUT", "/api/party/1/customfields", custom_fields("<label>Employees</label><number/>"))
    assert recorder.calls == [("GET", "/api/v2/parties/1?embed=fields")]        # nothing to clear: no PUT


async def test_unticking_a_boolean_needs_no_read(proxy, upstream, recorder):
    await send(proxy, "PUT", "/api/party/1/customfields", custom_fields("<label>Newsletter</label><boolean>false</boolean>"))
    assert recorder.calls == [("GET", DEFINITIONS), ("PUT", "/api/v2/parties/1")]
    assert (await values_in_v2(upstream, "parties", 1))["Newsletter"] is False


async def test_setting_a_datatags_field_attaches_the_datatag(proxy, upstream):
    # CF7: Capsule shows a datatag's fields on records that carry it; v1 clients name the tag.
    await send(proxy, "PUT", "/api/party/5/customfields",
               custom_fields("<tag>Staff</tag><label>NI Number</label><text>ZZ</text>"))
    record = (await v2(upstream, "GET", "/api/v2/parties/5?embed=tags"))["party"]
    assert [tag["name"] for tag in record["tags"]] == ["Staff"]
    await send(proxy, "PUT", "/api/party/6/customfields", custom_fields("<label>Employees</label><number>3</number>"))
    assert (await v2(upstream, "GET", "/api/v2/parties/6?embed=tags"))["party"]["tags"] == []


async def test_a_put_of_what_get_answered_changes_nothing(proxy, upstream):
    before = await values_in_v2(upstream, "parties", 1)
    answered = await (await proxy.get("/api/party/1/customfields", headers=PHILLIP)).read()
    await send(proxy, "PUT", "/api/party/1/customfields", answered)
    assert await values_in_v2(upstream, "parties", 1) == before


@pytest.mark.parametrize("field, named", [
    ("<label>Shoe Size</label><text>44</text>", "Shoe Size"),
    ("<label>NI Number</label><tag>Customer</tag><text>x</text>", "Customer"),
    ("<label>NI Number</label><date>2027-01-01</date>", "NI Number"),
    ("<label>Employees</label><text>many</text>", "Employees"),
    ("<label>Employees</label><boolean>true</boolean>", "Employees"),
    ("<label>Renewal Date</label><text>2027-01-01</text>", "Renewal Date"),
    ("<label>Renewal Date</label><date>2027-02-30</date>", "Renewal Date"),
    ("<label>Renewal Date</label><date>2027-01-01T10:00:00Z</date>", "Renewal Date"),
    ("<label>Newsletter</label><text>yes</text>", "Newsletter"),
    ("<label>Lead Source</label><text>fax</text>", "Lead Source"),
    ("<label>Lead Source</label><text>a</text><number>1</number>", "number"),
    ("<text>orphan</text>", "label"),
    ("<label>Employees</label><number>1e3</number>", "number"),
    ("<label>Newsletter</label><boolean>yes</boolean>", "boolean"),
    ("<label>Employees</label><number>1</number></customField><customField><label>employees</label>"
     "<number>2</number>", "Employees"),
])
async def test_bad_input_is_a_400_naming_it_and_writes_nothing(proxy, upstream, recorder, field, named):
    before = await values_in_v2(upstream, "parties", 1)
    recorder.clear()
    # A valid field first: nothing of the request is written when another one is wrong.
    body = custom_fields("<label>Lead Source</label><text>newsletter</text>", field)
    response = await send(proxy, "PUT", "/api/party/1/customfields", body, 400)
    assert named in await error(response)
    assert recorder.paths("PUT") == []
    assert set(recorder.paths()) <= {DEFINITIONS}                      # at most the definitions were read
    assert await values_in_v2(upstream, "parties", 1) == before


async def test_an_unknown_label_reads_the_definitions_once_more(proxy, recorder):
    await xml(proxy, "/api/party/customfield/definitions")
    recorder.clear()
    response = await send(proxy, "PUT", "/api/party/1/customfields",
                          custom_fields("<label>Shoe Size</label><text>44</text>"), 400)
    assert "unknown custom field label 'Shoe Size'" in await error(response)
    assert recorder.calls == [("GET", DEFINITIONS)]          # the cached list may be stale (P3)


async def test_an_empty_document_changes_nothing(proxy, recorder):
    await send(proxy, "PUT", "/api/party/1/customfields", "<customFields/>")
    assert recorder.calls == [("GET", "/api/v2/parties/1?embed=fields")]       # only: does party 1 exist?
    await send(proxy, "POST", "/api/kase/999/customfields", {"customFields": {}}, 404)

