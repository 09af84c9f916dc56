"""Property tests: hostile or random input only ever raises DocumentError, and encoding then
decoding is the identity on the neutral form."""

from __future__ import annotations

import json
import string
from datetime import date, datetime

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from proxy.v1.documents import DocumentError
from tests.tables import TASK_FIELDS, USER_FIELDS

from .codecs import codec, json_codec, xml_codec
from proxy.v1.documents import xml_safe
from proxy.v1.schemas import STRUCTURE

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_WS = " \t\r\n"

# -- strategies ------------------------------------------------------------------------------

#: Characters XML 1.0 can carry.
xml_char = st.one_of(
    st.sampled_from("\t\n\r"),
    st.characters(min_codepoint=0x20, exclude_categories=("Cs",), exclude_characters="\ufffe\uffff"),
)
#: Any character, including those XML cannot carry.
any_char = st.characters(exclude_categories=("Cs",))

ids = st.integers(min_value=1, max_value=10**18 - 1).map(str)
instants = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0).isoformat() + "Z")      # isoformat pads years to 4 digits
midnights = st.dates(min_value=date(1, 1, 1)).map(lambda d: f"{d.isoformat()}T00:00:00Z")
texts = st.text(xml_char, min_size=1, max_size=40).map(lambda t: t.strip(_WS)).filter(bool)
booleans = st.sampled_from(["true", "false"])

VALUES = {"OptionalId": ids, "Id": ids, "Stamp": instants, "DueDate": midnights, "Text": texts,
          "Name": texts, "Boolean": booleans}


@st.composite
def neutral_records(draw, fields: tuple[str, ...]) -> dict[str, str]:
    names = draw(st.permutations(fields))
    chosen = names[: draw(st.integers(0, len(names)))]
    return {name: draw(VALUES[_LEAF_TYPES[name]]) for name in chosen}


_LEAF_TYPES = {name: decl.leaf_type for root in ("task", "users") for name, decl in
               (STRUCTURE.roots[root].children if root == "task" else
                STRUCTURE.roots[root].children["user"].children).items()}
neutral_tasks = neutral_records(TASK_FIELDS)
neutral_users = neutral_records(USER_FIELDS)


def mutate(data: bytes, draw) -> bytes:
    """Up to three random byte-level edits."""
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        choice = draw(st.integers(0, 4))
        if choice == 0:
            data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
        elif choice == 1:
            data = data[:at] + data[at + draw(st.integers(1, 8)):]
        elif choice == 2:
            data = data[:at] + data[at:at + 16] + data[at:]
        elif choice == 3:
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
        else:
            data = data[:at]
    return data


element_names = st.one_of(
    st.sampled_from(TASK_FIELDS + ("task", "tasks", "colour", "kaseId", "Description")),
    st.text(string.ascii_letters + string.digits + "-_.:", min_size=1, max_size=10),
)


@st.composite
def near_valid_xml(draw) -> bytes:
    children = draw(st.lists(st.tuples(element_names, st.one_of(texts, st.text(any_char, max_size=20), ids,
                                                                 instants)), max_size=8))
    parts = []
    for name, value in children:
        if draw(st.booleans()):
            value = value.replace("&", "&amp;").replace("<", "&lt;")
        parts.append(f"<{name}>{value}</{name}>")
    root = draw(st.sampled_from(["task", "task", "task", "tasks", "Task", "x"]))
    head = draw(st.sampled_from(["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
                                 '<?xml version="1.0" encoding="ISO-8859-1"?>', "\ufeff", "<!DOCTYPE task>"]))
    text = f"{head}<{root}>{''.join(parts)}</{root}>"
    return mutate(text.encode("utf-8", "surrogatepass"), draw)


json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        st.text(any_char, max_size=20), ids, instants)
json_values = st.recursive(json_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)


@st.composite
def near_valid_json(draw) -> bytes:
    task = draw(st.dictionaries(element_names, st.one_of(json_values, texts, ids), max_size=8))
    document = draw(st.sampled_from(["task", "task", "tasks", None]))
    payload = {document: task} if document else task
    return mutate(json.dumps(payload).encode(), draw)


def only_document_errors(call, *args, **kwargs):
    try:
        result = call(*args, **kwargs)
    except DocumentError as exc:
        assert exc.status in (400, 413, 415)
        assert isinstance(exc.message, str) and exc.message
        return None
    return result


def assert_neutral_task(result) -> None:
    if result is not None:
        assert isinstance(result, dict)
        assert set(result) <= set(TASK_FIELDS)
        assert all(isinstance(v, str) for v in result.values())


# -- robustness ------------------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=300))
@example(b"")
@example(b"\x00")
@example(b"\xef\xbb\xbf")
@example(b"<")
@example(b"<task")
def test_random_bytes_xml(data):
    assert_neutral_task(only_document_errors(xml_codec.decode_task, data))
    assert_neutral_task(only_document_errors(xml_codec.decode_task, data, charset="windows-1252"))


@FUZZ
@given(st.binary(max_size=300))
@example(b"{}")
@example(b'{"task":')
def test_random_bytes_json(data):
    assert_neutral_task(only_document_errors(json_codec.decode_task, data))


@FUZZ
@given(near_valid_xml())
def test_near_valid_xml(data):
    assert_neutral_task(only_document_errors(xml_codec.decode_task, data))
    only_document_errors(xml_codec.decode_tasks, data)


@FUZZ
@given(near_valid_json())
def test_near_valid_json(data):
    assert_neutral_task(only_document_errors(json_codec.decode_task, data))
    only_document_errors(json_codec.decode_tasks, data)


@FUZZ
@given(st.one_of(near_valid_xml(), near_valid_json(), st.binary(max_size=100)),
       st.sampled_from([None, "", "application/xml", "text/xml; charset=latin1", "application/json",
                        "text/plain", "application/json; charset=utf-16", "text/html", "application/xml; charset=x"]))
def test_near_valid_through_the_front_door(data, content_type):
    assert_neutral_task(only_document_errors(codec.decode_task, data, content_type))


# -- round trips -----------------------------------------------------------------------------

@ROUND_TRIP
@given(neutral_tasks)
def test_task_round_trip(task):
    assert xml_codec.decode_task(xml_codec.encode_task(task)) == task
    assert json_codec.decode_task(json_codec.encode_task(task)) == task
    assert list(xml_codec.decode_task(xml_codec.encode_task(task))) == list(task)


@ROUND_TRIP
@given(st.lists(neutral_tasks, max_size=4), st.booleans())
def test_task_list_round_trip(tasks, always_list):
    assert xml_codec.decode_tasks(xml_codec.encode_tasks(tasks)) == tasks
    assert json_codec.decode_tasks(json_codec.encode_tasks(tasks, always_list=always_list)) == tasks


@ROUND_TRIP
@given(st.lists(neutral_users, max_size=3), st.lists(texts, max_size=4), texts)
def test_other_round_trips(users, categories, message):
    assert xml_codec.decode_users(xml_codec.encode_users(users)) == users
    assert json_codec.decode_users(json_codec.encode_users(users)) == users
    assert xml_codec.decode_categories(xml_codec.encode_categories(categories)) == categories
    assert json_codec.decode_categories(json_codec.encode_categories(categories)) == categories
    assert xml_codec.decode_error(xml_codec.encode_error(message)) == message
    assert json_codec.decode_error(json_codec.encode_error(message)) == message


@ROUND_TRIP
@given(st.dictionaries(st.sampled_from(TASK_FIELDS), st.one_of(st.none(), st.text(any_char, max_size=30))))
def test_encoders_never_write_broken_documents(task):
    # Arbitrary upstream text: the output is always well-formed, matches what lxml writes,
    # and reads back as the same text minus what XML cannot carry.
    out = xml_codec.encode_task(task)
    root = etree.fromstring(out)
    expected = etree.Element("task")
    for key, value in task.items():
        if value and xml_safe(value):
            etree.SubElement(expected, key).text = xml_safe(value)
    assert out == b'<?xml version="1.0" encoding="UTF-8"?>' + etree.tostring(expected, encoding="UTF-8")
    assert {c.tag: c.text for c in root} == {k: xml_safe(v) for k, v in task.items() if v and xml_safe(v)}
    assert b"<>" not in out and not any(c.text is None for c in root)
    as_json = orjson.loads(json_codec.encode_task(task))["task"]
    assert as_json == {k: xml_safe(v) for k, v in task.items() if v and xml_safe(v)}
