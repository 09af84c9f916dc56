"""Hostile XML bodies: each is refused with the right status before anything is expanded,
fetched or even parsed, and the parser itself would not expand them either."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from lxml import etree

from proxy.v1.documents import DEFAULT_MAX_BYTES

from .codecs import xml_codec
from proxy.v1.documents import MAX_DEPTH

from .helpers import rejects

XXE_FILE = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<task><description>&e;</description></task>")
XXE_HTTP = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:1/x">]>'
            b"<task><description>&e;</description></task>")
XXE_PARAMETER = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]>'
                 b"<task/>")
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE task SYSTEM "http://127.0.0.1:1/task.dtd"><task/>'
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
               for i in range(1, 10))
    + b"]><task><description>&lol9;</description></task>")
QUADRATIC_BLOWUP = (b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "' + b"A" * 50_000 + b'">]>'
                    b"<task><description>" + b"&a;" * 20_000 + b"</description></task>")
PLAIN_DOCTYPE = b"<!DOCTYPE task><task/>"
DOCTYPE_AFTER_COMMENT = b"<!-- hi --><!DOCTYPE task [<!ENTITY x 'y'>]><task/>"

ENTITY_ATTACKS = {
    "xxe-file": XXE_FILE, "xxe-http": XXE_HTTP, "xxe-parameter-entity": XXE_PARAMETER,
    "external-dtd": EXTERNAL_DTD, "billion-laughs": BILLION_LAUGHS,
    "quadratic-blowup": QUADRATIC_BLOWUP, "plain-doctype": PLAIN_DOCTYPE,
    "doctype-after-comment": DOCTYPE_AFTER_COMMENT,
}


@pytest.fixture
def parser_must_not_run(monkeypatch):
    """Make any call of the XML parser fail the test: the refusal must come first."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the XML parser was called")
    monkeypatch.setattr(xml_codec.etree, "fromstring", forbidden)


@pytest.mark.parametrize("body", ENTITY_ATTACKS.values(), ids=ENTITY_ATTACKS.keys())
def test_doctype_is_refused_before_parsing(body, parser_must_not_run):
    assert "DOCTYPE declarations are not allowed" in rejects(xml_codec.decode_task, body)


@pytest.mark.parametrize("body", ENTITY_ATTACKS.values(), ids=ENTITY_ATTACKS.keys())
def test_doctype_is_refused_in_every_transcoded_encoding_too(body):
    latin1 = body.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert "DOCTYPE" in rejects(xml_codec.decode_task, latin1)
    assert "DOCTYPE" in rejects(xml_codec.decode_task, body, charset="windows-1252")


@pytest.mark.parametrize("body", [XXE_FILE, XXE_HTTP, BILLION_LAUGHS, QUADRATIC_BLOWUP],
                         ids=["xxe-file", "xxe-http", "billion-laughs", "quadratic-blowup"])
def test_the_hardened_parser_alone_expands_nothing(body):
    # Defence in depth: even without the DOCTYPE check, the parser substitutes no entity.
    try:
        root = etree.fromstring(body, xml_codec.PARSER)
    except etree.XMLSyntaxError:
        return                                   # libxml2's amplification limit: also fine
    description = root.find("description")
    assert description.text is None               # the reference is left as a reference
    assert len(etree.tostring(description)) < 100
    assert b"root:" not in etree.tostring(root)


def test_parser_options():
    # The hardening options, read from the source of the one module-level parser.
    tree = ast.parse(Path(xml_codec.__file__).read_text(encoding="utf-8"))
    calls = [node.value for node in tree.body if isinstance(node, ast.Assign)
             and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["PARSER"]]
    assert len(calls) == 1
    options = {kw.arg: ast.literal_eval(kw.value) for kw in calls[0].keywords}
    assert options == options | {
        "resolve_entities": False, "no_network": True, "load_dtd": False, "dtd_validation": False,
        "huge_tree": False, "remove_pis": True, "remove_comments": True,
    }
    assert isinstance(xml_codec.PARSER, etree.XMLParser)


@pytest.mark.parametrize("depth", [10_000, 300, MAX_DEPTH + 1])
def test_deep_nesting(depth):
    body = b"<task>" + b"<a>" * (depth - 1) + b"</a>" * (depth - 1) + b"</task>"
    assert "nested too deeply" in rejects(xml_codec.decode_task, body)


def test_deep_nesting_under_a_wrong_root():
    body = b"<a>" * 10_000 + b"</a>" * 10_000
    assert "nested too deeply" in rejects(xml_codec.decode_task, body)


def test_nesting_within_the_limit_gets_a_schema_message():
    body = b"<task><description><b>x</b></description></task>"
    assert "must hold text only" in rejects(xml_codec.decode_task, body)


def test_ten_mebibytes_is_too_large(parser_must_not_run):
    body = b"<task><description>" + b"x" * (10 * 1024 * 1024) + b"</description></task>"
    message = rejects(xml_codec.decode_task, body, status=413)
    assert str(DEFAULT_MAX_BYTES) in message


def test_the_size_limit_is_configurable():
    body = b"<task><description>" + b"x" * 100 + b"</description></task>"
    rejects(xml_codec.decode_task, body, status=413, max_bytes=64)
    assert xml_codec.decode_task(body, max_bytes=len(body)) == {"description": "x" * 100}


def test_exactly_one_mebibyte_is_accepted():
    head, tail = b"<task><description>", b"</description></task>"
    body = head + b"x" * (DEFAULT_MAX_BYTES - len(head) - len(tail)) + tail
    assert len(body) == DEFAULT_MAX_BYTES
    assert len(xml_codec.decode_task(body)["description"]) == DEFAULT_MAX_BYTES - len(head) - len(tail)
    rejects(xml_codec.decode_task, body + b" ", status=413)


@pytest.mark.parametrize("body, expected", [
    (b"<task><description>\xff</description></task>", "not valid UTF-8 (byte 0xFF at offset 19)"),
    (b"\xef\xbb\xbf \n<task><description>\xff</description></task>", "not valid UTF-8 (byte 0xFF at offset 24)"),
    (b"<task><description>caf\xe9</description></task>", "not valid UTF-8 (byte 0xE9 at offset 22)"),
    (b"<task><description>\xed\xa0\x80</description></task>", "not valid UTF-8"),     # a surrogate
    (b"<task><description>\xc0\xaf</description></task>", "not valid UTF-8"),         # overlong
    (b"<task><description>\xf4\x90\x80\x80</description></task>", "not valid UTF-8"),  # > U+10FFFF
    (b'<?xml version="1.0" encoding="UTF-8"?><task><description>\xe9</description></task>', "not valid UTF-8"),
    (b'<?xml version="1.0" encoding="US-ASCII"?><task><description>\xe9</description></task>', "not valid UTF-8"),
    (b"<task><description>a\x00b</description></task>", "NUL byte"),
    (b"<\x00t\x00a\x00s\x00k\x00/\x00>\x00", "NUL byte"),                 # UTF-16 without BOM
    (b"<task><description>\x01</description></task>", "malformed XML"),    # control character
    (b"<task><description>&#1;</description></task>", "malformed XML"),
    (b"<task><description>\xef\xbf\xbe</description></task>", "malformed XML"),  # U+FFFE
])
def test_bad_bytes(body, expected):
    assert expected in rejects(xml_codec.decode_task, body)


@pytest.mark.parametrize("body, charset", [
    ('<?xml version="1.0" encoding="UTF-16"?><task><description>caf\u00e9</description></task>'.encode("utf-16"), None),
    ("<task><description>caf\u00e9</description></task>".encode("utf-16-be"), "utf-16"),
    ("<task><description>caf\u00e9</description></task>".encode("utf-32"), None),
    # .NET's XmlSerializer declares UTF-16 on what it writes as UTF-8 (no byte-order mark).
    ('<?xml version="1.0" encoding="utf-16"?><task><description>caf\u00e9</description></task>'.encode(), None),
    ("<task><description>caf\u00e9</description></task>".encode(), "utf-16"),
])
def test_utf16_and_lying_declarations_are_read(body, charset):
    # XML 1.0 requires UTF-16 with a byte-order mark to be read (D1).
    assert xml_codec.decode_task(body, charset=charset) == {"description": "caf\u00e9"}


@pytest.mark.parametrize("body, charset", [
    (b'<?xml version="1.0" encoding="EBCDIC-US"?><task/>', None),
    (b'<?xml version="1.0" encoding="Shift_JIS"?><task/>', None),
    (b'<?xml version="1.0" encoding="no-such-encoding"?><task/>', None),
    (b"<task/>", "koi8-r"),
])
def test_unsupported_encodings(body, charset):
    assert "UTF-8" in rejects(xml_codec.decode_task, body, charset=charset, status=415)


def test_windows_1252_bytes_that_do_not_decode():
    body = b"<task><description>\x81</description></task>"
    assert "not valid cp1252 (byte 0x81 at offset 19)" in rejects(xml_codec.decode_task, body, charset="windows-1252")


def test_non_bytes_bodies_are_a_programming_error():
    with pytest.raises(TypeError):
        xml_codec.decode_task("<task/>")  # type: ignore[arg-type]
    assert xml_codec.decode_task(bytearray(b"<task><id>1</id></task>")) == {"id": "1"}
    assert xml_codec.decode_task(memoryview(b"<task><id>1</id></task>")) == {"id": "1"}


def test_a_doctype_inside_cdata_is_refused_too():
    # Documented limitation of the byte-level check: harmless, and no real client sends it.
    body = b"<task><description><![CDATA[<!DOCTYPE html>]]></description></task>"
    assert "DOCTYPE" in rejects(xml_codec.decode_task, body)
    escaped = b"<task><description>&lt;!DOCTYPE html&gt;</description></task>"
    assert xml_codec.decode_task(escaped) == {"description": "<!DOCTYPE html>"}
