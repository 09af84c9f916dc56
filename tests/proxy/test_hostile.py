"""Hostile request bodies through the whole proxy: XXE, entity expansion, deep nesting, huge and
mis-encoded bodies. Each is refused quickly with a 4xx v1 error document, nothing reaches the
upstream, and no answer ever carries the content of a local file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from lxml import etree

from .conftest import JSON, PHILLIP

XML = {"Content-Type": "application/xml"}
JSON_TYPE = {"Content-Type": "application/json"}
QUICK = 2.0  # seconds; a sanity bound against expansion or quadratic parsing, not a benchmark
TAIL = "<dueDate>2026-01-05</dueDate></task>"

# Write routes that read a task body; each would call the upstream if the body were accepted.
ROUTES = [("POST", "/api/task"), ("PUT", "/api/task/1"), ("POST", "/api/party/1/task")]


def _passwd_markers() -> list[str]:
    try:
        lines = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    return ["root:x:0:0", "/bin/sh", "/usr/sbin/nologin"] + [line for line in lines[:5] if line.strip()]


PASSWD = _passwd_markers()

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE task [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10))
    + "]><task><description>&lol9;</description>" + TAIL).encode()

BIG = "A" * 50_000
QUADRATIC = (f'<?xml version="1.0"?><!DOCTYPE task [<!ENTITY a "{BIG}">]><task><description>'
             + "&a;" * 20_000 + "</description>" + TAIL).encode()

HOSTILE_XML = {
    "xxe file": b'<?xml version="1.0"?><!DOCTYPE task [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                b"<task><description>&xxe;</description>" + TAIL.encode(),
    "xxe parameter entity": b'<?xml version="1.0"?><!DOCTYPE task [<!ENTITY % p SYSTEM "file:///etc/passwd">%p;]>'
                            b"<task><description>x</description>" + TAIL.encode(),
    "billion laughs": BILLION_LAUGHS,
    "quadratic blowup": QUADRATIC,
    "bare doctype": b"<!DOCTYPE task><task><description>x</description>" + TAIL.encode(),
    "doctype after a BOM": b"\xef\xbb\xbf<!DOCTYPE task><task><description>x</description>" + TAIL.encode(),
    "doctype with an internal subset only": b'<!DOCTYPE task [<!ELEMENT task ANY>]><task><description>x'
                                            b"</description>" + TAIL.encode(),
    "xinclude": b'<task xmlns:xi="http://www.w3.org/2001/XInclude"><description>'
                b'<xi:include href="file:///etc/passwd" parse="text"/></description>' + TAIL.encode(),
    "deep nesting": b"<task>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</task>",
    "deep nesting unclosed": b"<task><description>" + b"<a>" * 100_000,
    "wide nesting": b"<task><description>x</description>" + b"<a><b><c><d><e><f><g><h><i><j>x"
                    b"</j></i></h></g></f></e></d></c></b></a>" * 1_000 + TAIL.encode(),
    "many attributes": b"<task " + b" ".join(b'a%d="x"' % i for i in range(20_000))
                       + b"><description>x</description>" + TAIL.encode(),
    "invalid UTF-8": b"<task><description>caf\xc3\x28 \xff\xfe</description>" + TAIL.encode(),
    "overlong UTF-8 for <": b"<task><description>\xc0\xbc!DOCTYPE</description>" + TAIL.encode(),
    "UTF-16 without declaration or BOM": ("<task><description>x</description>" + TAIL).encode("utf-16-le"),
    "UTF-16 big-endian without BOM": ("<task><description>x</description>" + TAIL).encode("utf-16-be"),
    "UTF-16 doctype": ('<!DOCTYPE task [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                       "<task><description>&xxe;</description>" + TAIL).encode("utf-16"),
    "UTF-7 declared": b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE task+AD4-'
                      b"<task><description>x</description>" + TAIL.encode(),
    "NUL byte": b"<task><description>x\x00y</description>" + TAIL.encode(),
    "undefined entity": b"<task><description>&xxe;</description>" + TAIL.encode(),
    "huge character reference": b"<task><description>&#99999999999;</description>" + TAIL.encode(),
    "unterminated CDATA": b"<task><description><![CDATA[" + b"x" * 100_000,
    "empty body": b"",
    "only whitespace": b" \r\n\t " * 1000,
    "not XML at all": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100,
}


def error_document(response, body: bytes, *, as_json: bool = False) -> str:
    """The message of the v1 error document; also checks no /etc/passwd content leaked."""
    text = body.decode("utf-8", errors="replace")
    for marker in PASSWD:
        assert marker not in text, f"the answer leaks /etc/passwd: {text[:300]!r}"
    if as_json:
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        document = json.loads(body)
        assert list(document) == ["message"] and isinstance(document["message"], str) and document["message"]
        return document["message"]
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = etree.fromstring(body)
    assert root.tag == "error" and [child.tag for child in root] == ["message"], body[:300]
    assert root.findtext("message")
    return root.findtext("message")


async def refused(proxy, method: str, path: str, body, headers: dict[str, str], *,
                  statuses: tuple[int, ...] = (400, 413, 415), as_json: bool = False) -> tuple[int, str]:
    started = time.monotonic()
    response = await proxy.request(method, path, data=body, headers={**PHILLIP, **headers,
                                                                      **(JSON if as_json else {})})
    answer = await response.read()
    elapsed = time.monotonic() - started
    assert response.status in statuses, (response.status, answer[:300])
    assert elapsed < QUICK, f"{method} {path} took {elapsed:.2f}s"
    return response.status, error_document(response, answer, as_json=as_json)


@pytest.mark.parametrize("method, path", ROUTES, ids=lambda v: v.replace("/", "_") if isinstance(v, str) else v)
@pytest.mark.parametrize("name", list(HOSTILE_XML))
async def test_hostile_xml_is_refused_quickly_and_never_sent(proxy, recorder, name, method, path):
    status, message = await refused(proxy, method, path, HOSTILE_XML[name], XML)
    assert 400 <= status < 500
    assert recorder.calls == [], f"{name} reached the upstream"


@pytest.mark.parametrize("name", ["xxe file", "billion laughs", "quadratic blowup", "deep nesting",
                                  "invalid UTF-8", "UTF-16 doctype"])
async def test_hostile_xml_errors_come_as_json_when_asked(proxy, recorder, name):
    await refused(proxy, "POST", "/api/task", HOSTILE_XML[name], XML, as_json=True)
    assert recorder.calls == []


@pytest.mark.parametrize("name", ["xxe file", "xxe parameter entity", "billion laughs", "quadratic blowup",
                                  "bare doctype", "doctype after a BOM"])
async def test_any_doctype_is_refused_by_name(proxy, recorder, name):
    status, message = await refused(proxy, "POST", "/api/task", HOSTILE_XML[name], XML)
    assert status == 400 and "DOCTYPE" in message


async def test_xxe_never_echoes_the_file_even_in_a_text_content_type(proxy, recorder):
    for content_type in ("text/xml", "text/plain", "application/octet-stream", "application/atom+xml", ""):
        await refused(proxy, "POST", "/api/task", HOSTILE_XML["xxe file"], {"Content-Type": content_type})
    assert recorder.calls == []


async def test_an_external_dtd_is_never_fetched(proxy, upstream, recorder):
    # The DTD URL points at the upstream itself, whose recorder would see the fetch.
    dtd = str(upstream.make_url("/evil.dtd"))
    for doctype in (f'<!DOCTYPE task SYSTEM "{dtd}">', f'<!DOCTYPE task PUBLIC "-//X//Y" "{dtd}">',
                    f'<!DOCTYPE task [<!ENTITY % e SYSTEM "{dtd}"> %e;]>'):
        body = f"{doctype}<task><description>x</description>{TAIL}".encode()
        await refused(proxy, "POST", "/api/task", body, XML)
    assert recorder.calls == []


@pytest.mark.parametrize("charset", ["utf-7", "ebcdic-cp-us", "cp037", "x-no-such-charset"])
async def test_unsupported_charsets_are_415(proxy, recorder, charset):
    body = ("<task><description>x</description>" + TAIL).encode("utf-16" if "16" in charset else "ascii")
    status, message = await refused(proxy, "POST", "/api/task", body,
                                    {"Content-Type": f"application/xml; charset={charset}"})
    assert status in (400, 415)
    assert recorder.calls == []


async def test_utf16_without_declaration_is_refused_not_guessed(proxy, recorder):
    status, message = await refused(proxy, "POST", "/api/task", HOSTILE_XML["UTF-16 without declaration or BOM"], XML)
    assert status in (400, 415)
    assert recorder.calls == []


# --- JSON bodies ---

HOSTILE_JSON = {
    "deep arrays": b"[" * 100_000 + b"]" * 100_000,
    "deep arrays unclosed": b"[" * 100_000,
    "deep objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deep inside the task": b'{"task": {"description": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    "invalid UTF-8": b'{"task": {"description": "caf\xc3\x28 \xff"}}',
    "invalid UTF-8 in a key": b'{"task": {"descr\xffiption": "x", "dueDate": "2026-01-05"}}',
    "lone surrogate escape": b'{"task": {"description": "\\ud800", "dueDate": "2026-01-05"}}',
    "NUL escape": b'{"task": {"description": "a\\u0000b", "dueDate": "2026-01-05"}}',
    "huge integer": b'{"task": {"description": ' + b"9" * 100_000 + b', "dueDate": "2026-01-05"}}',
    "huge float": b'{"task": {"description": 1e99999, "dueDate": "2026-01-05"}}',
    "NaN": b'{"task": {"description": NaN, "dueDate": "2026-01-05"}}',
    "many duplicate keys": b'{"task": {' + b'"description": "x", ' * 20_000 + b'"dueDate": "2026-01-05"}}',
    "many unknown keys": b'{"task": {' + b", ".join(b'"k%d": "x"' % i for i in range(20_000)) + b"}}",
    "UTF-16 JSON": '{"task": {"description": "x", "dueDate": "2026-01-05"}}'.encode("utf-16"),
    "trailing garbage": b'{"task": {"description": "x", "dueDate": "2026-01-05"}} <!DOCTYPE',
    "XML sent as JSON": HOSTILE_XML["xxe file"],
    "empty": b"",
    "a bare string": b'"task"',
    "null": b"null",
}


@pytest.mark.parametrize("method, path", ROUTES, ids=lambda v: v.replace("/", "_") if isinstance(v, str) else v)
@pytest.mark.parametrize("name", list(HOSTILE_JSON))
async def test_hostile_json_is_refused_quickly_and_never_sent(proxy, recorder, name, method, path):
    status, message = await refused(proxy, method, path, HOSTILE_JSON[name], JSON_TYPE, as_json=True)
    assert 400 <= status < 500
    assert recorder.calls == [], f"{name} reached the upstream"


async def test_json_nesting_message_is_about_depth_or_syntax(proxy, recorder):
    status, message = await refused(proxy, "POST", "/api/task", HOSTILE_JSON["deep arrays"], JSON_TYPE,
                                    as_json=True)
    assert status == 400
    assert "deep" in message or "JSON" in message or "expected" in message


# --- size ---

TEN_MIB = 10 * 1024 * 1024


@pytest.mark.parametrize("content_type", [XML, JSON_TYPE])
@pytest.mark.parametrize("method, path", ROUTES[:2])
async def test_a_10_mib_body_is_413(proxy, recorder, content_type, method, path):
    body = b"<task><description>" + b"x" * TEN_MIB + b"</description></task>"
    status, message = await refused(proxy, method, path, body, content_type, statuses=(413,))
    assert "larger" in message or "limit" in message
    assert recorder.calls == []


async def test_a_10_mib_chunked_body_is_413(proxy, recorder):
    async def chunks():
        yield b"<task><description>"
        for _ in range(10):
            yield b"x" * (1024 * 1024)
        yield b"</description></task>"
    await refused(proxy, "POST", "/api/task", chunks(), XML, statuses=(413,))
    assert recorder.calls == []


async def test_a_custom_body_limit_is_enforced(make_proxy, recorder):
    proxy = await make_proxy(server={"max_body": 2048})
    padding = " " * 2100
    big = f"<task><description>x</description>{padding}{TAIL}".encode()
    for method, path in ROUTES:
        await refused(proxy, method, path, big, XML, statuses=(413,))
        json_big = json.dumps({"task": {"description": "x" * 2100, "dueDate": "2026-01-05"}}).encode()
        await refused(proxy, method, path, json_big, JSON_TYPE, statuses=(413,), as_json=True)
    assert recorder.calls == []
    # Just under the limit is fine: the limit is not refusing ordinary documents.
    small = f"<task><description>{'y' * 1900}</description>{TAIL}".encode()
    assert 1900 < len(small) <= 2048
    response = await proxy.post("/api/task", data=small, headers={**PHILLIP, **XML})
    assert response.status == 201, await response.text()
    assert recorder.paths("POST") == ["/api/v2/tasks"]


async def test_after_hostile_bodies_the_proxy_still_works(proxy, recorder):
    for body in (HOSTILE_XML["billion laughs"], HOSTILE_XML["deep nesting"], HOSTILE_XML["quadratic blowup"]):
        await refused(proxy, "POST", "/api/task", body, XML)
    response = await proxy.post("/api/task", data=f"<task><description>ok</description>{TAIL}".encode(),
                                headers={**PHILLIP, **XML})
    assert response.status == 201, await response.text()
    assert recorder.paths("POST") == ["/api/v2/tasks"]
    assert recorder.paths("PUT") == []
