"""Decoding v1 XML task bodies: what is accepted, what is refused, and the messages."""

from __future__ import annotations

import itertools
import random

import pytest

from tests.tables import TASK_FIELDS, TASK_READ_ONLY_FIELDS, TASK_WRITABLE_FIELDS

from .codecs import xml_codec

decode_task, decode_tasks, decode_users = xml_codec.decode_task, xml_codec.decode_tasks, xml_codec.decode_users
decode_categories, decode_error = xml_codec.decode_categories, xml_codec.decode_error

from .helpers import FULL_TASK, rejects, task_xml

DOC_EXAMPLE = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<task>
  <id>100</id><description>Meet with customer</description><detail>Meeting at Coffee shop</detail>
  <category>Meeting</category><dueDate>2012-02-24T00:00:00Z</dueDate><owner>a.user</owner>
  <partyId>1</partyId><partyName>Eric Jones</partyName><status>OPEN</status>
  <createdOn>2015-11-30T10:15:10Z</createdOn><updatedOn>2015-11-30T10:29:14Z</updatedOn>
</task>
"""


def test_the_documented_example():
    assert decode_task(DOC_EXAMPLE) == {
        "id": "100", "description": "Meet with customer", "detail": "Meeting at Coffee shop",
        "category": "Meeting", "dueDate": "2012-02-24T00:00:00Z", "owner": "a.user",
        "partyId": "1", "partyName": "Eric Jones", "status": "OPEN",
        "createdOn": "2015-11-30T10:15:10Z", "updatedOn": "2015-11-30T10:29:14Z",
    }


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?>\n<task>\n<description>Call customer</description>\n'
    b'<dueDateTime>2010-04-21T15:00:00Z</dueDateTime>\n</task>',
    # the older v1 page put <dueDateTime> first
    b'<?xml version="1.0"?><task><dueDateTime>2010-04-21T15:00:00Z</dueDateTime>'
    b'<description>Call customer</description></task>',
])
def test_the_documented_create_requests(body):
    assert decode_task(body) == {"description": "Call customer", "dueDateTime": "2010-04-21T15:00:00Z"}


def test_every_element_at_once_keeps_document_order():
    assert list(decode_task(task_xml(FULL_TASK))) == list(FULL_TASK)
    assert decode_task(task_xml(FULL_TASK)) == FULL_TASK


@pytest.mark.parametrize("seed", range(25))
def test_children_in_any_order(seed):
    items = list(FULL_TASK.items())
    random.Random(seed).shuffle(items)
    decoded = decode_task(task_xml(items))
    assert decoded == FULL_TASK
    assert list(decoded) == [k for k, _ in items]   # neutral order = document order


@pytest.mark.parametrize("order", list(itertools.permutations(["description", "dueDate", "owner"])))
def test_all_orders_of_a_small_update(order):
    fields = {"description": "x", "dueDate": "2010-04-21T00:00:00Z", "owner": "phillip"}
    assert decode_task(task_xml([(k, fields[k]) for k in order])) == fields


@pytest.mark.parametrize("name", TASK_READ_ONLY_FIELDS)
def test_each_read_only_element_is_accepted(name):
    assert decode_task(task_xml({"description": "d", name: FULL_TASK[name]})) == {
        "description": "d", name: FULL_TASK[name]}


@pytest.mark.parametrize("name", TASK_WRITABLE_FIELDS)
def test_each_writable_element_alone(name):
    assert decode_task(task_xml({name: FULL_TASK[name]})) == {name: FULL_TASK[name]}


def test_field_lists_are_consistent():
    assert set(TASK_FIELDS) == set(TASK_WRITABLE_FIELDS) | set(TASK_READ_ONLY_FIELDS)
    assert not set(TASK_WRITABLE_FIELDS) & set(TASK_READ_ONLY_FIELDS)


def test_an_empty_task_is_valid_here():
    # Whether description and a due date are present is the translation layer's call
    # (required on create; updates are partial).
    assert decode_task(b"<task/>") == {}
    assert decode_task(b"<task></task>") == {}


# -- values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, value", [
    ("Meet", "Meet"),
    # Free text is kept exactly as sent (issue 10; D2); XML itself reads CR LF as LF.
    ("  Meet  ", "  Meet  "),
    ("\n    Meet with\n    customer\n  ", "\n    Meet with\n    customer\n  "),
    ("\tMeet\r\n", "\tMeet\n"),
    ("<![CDATA[<b>bold</b> & more]]>", "<b>bold</b> & more"),
    ("a &lt; b &amp;&amp; c &gt; d &quot;q&quot; &apos;s&apos;", "a < b && c > d \"q\" 's'"),
    ("&#65;&#x42;&#x1F600;", "AB\U0001F600"),
    ("caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"),
    ("a<!-- note -->b", "ab"),                      # comments are dropped
    ("a<?pi data?>b", "ab"),                        # processing instructions are dropped
    ("", ""),
    ("   ", "   "),
    ("\u00a0nbsp\u00a0", "\u00a0nbsp\u00a0"),
])
def test_text_values(raw, value):
    assert decode_task(task_xml({"description": raw})) == {"description": value}


def test_typed_values_are_stripped_free_text_is_not():
    # Clients pretty-print; an id or a date with spaces around it is still that id or date.
    assert decode_task(task_xml({"id": "\n  12\n", "dueDate": " 2012-02-24 ", "detail": " x "})) == {
        "id": "12", "dueDate": "2012-02-24", "detail": " x "}


def test_empty_element_forms():
    assert decode_task(b"<task><detail/><category></category></task>") == {"detail": "", "category": ""}


@pytest.mark.parametrize("raw, value", [
    ("2012-02-24", "2012-02-24"),                 # capsule_crm (Ruby) sent plain dates (T1 reads them)
    (" 2012-02-24 ", "2012-02-24"),
    ("2012-02-24T00:00:00Z", "2012-02-24T00:00:00Z"),
    ("2012-02-24T00:00:00+01:00", "2012-02-24T00:00:00+01:00"),
])
def test_due_date_forms(raw, value):
    assert decode_task(task_xml({"dueDate": raw})) == {"dueDate": value}


@pytest.mark.parametrize("raw", [
    "2012-02-24T15:00:00Z", "2012-02-24T15:00:00.000Z", "2012-02-24T15:00:00.123456789Z",
    "2012-02-24T15:00:00+05:30", "2012-02-24T15:00:00-08:00", "2012-02-29T23:59:59Z",
    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
])
def test_accepted_date_times(raw):
    assert decode_task(task_xml({"dueDateTime": raw, "createdOn": raw})) == {"dueDateTime": raw, "createdOn": raw}


@pytest.mark.parametrize("raw", ["1", "42", "999999999999999999", " 7 "])
def test_accepted_ids(raw):
    assert decode_task(task_xml({"partyId": raw})) == {"partyId": raw.strip()}


def test_declaration_and_bom():
    body = b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8" standalone="yes"?><task><owner>a</owner></task>'
    assert decode_task(body) == {"owner": "a"}
    assert decode_task(b"<?xml version='1.0' encoding='utf-8'?>\n<task><owner>a</owner></task>") == {"owner": "a"}
    assert decode_task(b'<?xml version="1.0" encoding="US-ASCII"?><task><owner>a</owner></task>') == {"owner": "a"}
    assert decode_task(b"\n\n<task><owner>a</owner></task>\n\n") == {"owner": "a"}
    assert decode_task(b'\r\n  <?xml version="1.0" encoding="UTF-8"?>\n<task><owner>a</owner></task>') == {"owner": "a"}


@pytest.mark.parametrize("body, charset", [
    ('<?xml version="1.0" encoding="ISO-8859-1"?><task><description>caf\u00e9</description></task>'
     .encode("latin-1"), None),
    ('<?xml version="1.0" encoding="windows-1252"?><task><description>caf\u00e9</description></task>'
     .encode("cp1252"), None),
    ("<task><description>caf\u00e9</description></task>".encode("latin-1"), "ISO-8859-1"),
    # RFC 7303: the Content-Type charset wins over the declaration
    ('<?xml version="1.0" encoding="UTF-8"?><task><description>caf\u00e9</description></task>'
     .encode("latin-1"), "latin1"),
    ("<task><description>caf\u00e9</description></task>".encode("utf-8"), "utf-8"),
])
def test_declared_and_http_charsets(body, charset):
    assert decode_task(body, charset=charset) == {"description": "caf\u00e9"}


# -- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("body, expected", [
    (b"<task><colour>red</colour></task>", "unknown element <colour> in <task>"),
    (b"<task><description>a</description><colour>red</colour><size>2</size></task>",
     "unknown elements <colour>, <size> in <task>"),
    (b"<task><Description>a</Description></task>", "unknown element <Description> in <task>"),
    (b"<task><task/></task>", "unknown element <task> in <task>"),
    (b"<task><kaseId>3</kaseId></task>", "unknown element <kaseId> in <task>"),
    (b"<task><x:description xmlns:x='urn:x'>a</x:description></task>",
     "unknown element <{urn:x}description> in <task>"),
    (b"<task><description>a</description><description>b</description></task>",
     "<description> appears twice in <task>"),
    (b"<task><id>1</id><id>1</id><id>1</id></task>", "<id> appears 3 times in <task>"),
    (b"<task><partyId>abc</partyId></task>", "<partyId> must be a positive integer, got 'abc'"),
    (b"<task><id>0</id></task>", "<id> must be a positive integer, got '0'"),
    (b"<task><id>-5</id></task>", "<id> must be a positive integer, got '-5'"),
    (b"<task><id>007</id></task>", "<id> must be a positive integer, got '007'"),
    (b"<task><id>+7</id></task>", "<id> must be a positive integer, got '+7'"),
    (b"<task><id>1.0</id></task>", "<id> must be a positive integer, got '1.0'"),
    (b"<task><id>1234567890123456789</id></task>", "<id> must be a positive integer"),
    (b"<task><caseId>0</caseId></task>", "<caseId> must be a positive integer, got '0'"),
    (b"<task><dueDateTime>tomorrow</dueDateTime></task>",
     "<dueDateTime> must be an ISO-8601 date-time such as 2012-02-24T15:00:00Z, got 'tomorrow'"),
    (b"<task><dueDateTime>2012-02-24 15:00:00</dueDateTime></task>", "<dueDateTime> must be an ISO-8601 date-time"),
    (b"<task><dueDateTime>2012-02-24T24:00:00Z</dueDateTime></task>", "<dueDateTime> must be"),
    (b"<task><dueDateTime>2012-02-24T15:00:00+5</dueDateTime></task>", "<dueDateTime> must be"),
    (b"<task><createdOn>yesterday</createdOn></task>", "<createdOn> must be an ISO-8601 date-time"),
    (b"<task><dueDate>24/02/2012</dueDate></task>",
     "<dueDate> must be a date such as 2012-02-24, or 2012-02-24T00:00:00Z, "
     "got '24/02/2012'"),
    (b"<task><partyId>x</partyId><dueDateTime>y</dueDateTime></task>",
     "<partyId> must be a positive integer, got 'x'; <dueDateTime> must be"),
    (b"<task a='1'><description>x</description></task>", "attribute a of <task> is not allowed"),
    (b"<task><description lang='en'>x</description></task>", "attribute lang of <description> is not allowed"),
    (b"<task><description><b>x</b></description></task>", "<description> must hold text only, not child elements"),
    (b"<task>loose text<description>x</description></task>", "text is not allowed directly inside <task>"),
    (b"<tasks><task/></tasks>", "expected a <task> document, got <tasks>"),
    (b"<Task/>", "expected a <task> document, got <Task>"),
    (b"<task xmlns='http://example.com'/>", "expected a <task> document, got <{http://example.com}task>"),
    (b"<person><id>1</id></person>", "expected a <task> document, got <person>"),
])
def test_invalid_documents(body, expected):
    assert expected in rejects(decode_task, body)


def test_long_bad_values_are_shortened_in_messages():
    message = rejects(decode_task, task_xml({"partyId": "x" * 5000}))
    assert len(message) < 200 and message.endswith("...'")


def test_many_problems_are_summarised():
    body = task_xml({"id": "a", "partyId": "b", "caseId": "c", "opportunityId": "d",
                     "createdOn": "e", "updatedOn": "f", "completedOn": "g"})
    message = rejects(decode_task, body)
    assert message.count(" must be ") == 5 and message.endswith("; and 2 more problems")


@pytest.mark.parametrize("body, expected", [
    (b"", "empty"),
    (b"   \r\n\t ", "empty"),
    (b"\xef\xbb\xbf", "empty"),
    (b"not xml at all", "not an XML document"),
    (b"<task>", "malformed XML"),
    (b"<task><description>a</task>", "malformed XML: Opening and ending tag mismatch"),
    (b"<task></task><task></task>", "malformed XML"),
    (b"<task><description>&nbsp;</description></task>", "malformed XML: Entity 'nbsp' not defined"),
    (b"<task><description>a & b</description></task>", "malformed XML"),
    (b'<task><description>"</description><id a="1" a="2"/></task>', "malformed XML"),
    (b"<?xml version='1.0'?>", "not an XML document"),
])
def test_malformed_bodies(body, expected):
    assert expected in rejects(decode_task, body)


def test_other_document_kinds():
    assert decode_tasks(b'<tasks size="0"/>') == []
    assert decode_tasks(b"<tasks/>") == []
    assert decode_tasks(b'<tasks size="2"><task><id>1</id></task><task><id>2</id></task></tasks>') == [
        {"id": "1"}, {"id": "2"}]
    assert "says 3 but there are 1 entries" in rejects(decode_tasks, b'<tasks size="3"><task/></tasks>')
    assert "attribute size of <tasks> must be a non-negative integer, got 'x'" in rejects(
        decode_tasks, b'<tasks size="x"/>')
    assert "unknown element <foo> in <tasks>" in rejects(decode_tasks, b"<tasks><task/><foo/></tasks>")
    assert "<id> must be a positive integer, got 'b'" in rejects(
        decode_tasks, b"<tasks><task><id>1</id></task><task><id>b</id></task></tasks>")
    assert decode_users(b"<users><user><username>a</username><loggedIn>true</loggedIn></user></users>") == [
        {"username": "a", "loggedIn": "true"}]
    assert "<loggedIn> must be true or false, got 'yes'" in rejects(
        decode_users, b"<users><user><loggedIn>yes</loggedIn></user></users>")
    assert "unknown element <id> in <user>" in rejects(decode_users, b"<users><user><id>1</id></user></users>")
    assert decode_categories(b"<taskCategories><taskCategory>Call</taskCategory></taskCategories>") == ["Call"]
    assert "<taskCategory> must be non-empty text" in rejects(
        decode_categories, b"<taskCategories><taskCategory/></taskCategories>")
    assert decode_error(b"<error><message>Nope</message></error>") == "Nope"
    assert "<error> must contain <message>" in rejects(decode_error, b"<error/>")
