"""Fuzzing the write routes over real HTTP: whatever the body, the proxy never answers 5xx, and
every 4xx is a parseable v1 error document.

The emulator and the proxy run in a background thread with their own event loop (Hypothesis
and async fixtures do not mix); the tests are plain synchronous `@given` functions talking
HTTP/1.1 keep-alive with http.client.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings, strategies as st
from hypothesis.control import currently_in_test_context
from lxml import etree

from proxy.app import create_app as create_proxy_app
from proxy.config import load_settings
from proxy.emulator.app import create_app as create_emulator_app
from proxy.emulator.seed import parse_seed
from tests.tables import TASK_FIELDS, TASK_WRITABLE_FIELDS

from .conftest import basic

# The demo seed with a rate limit the fuzzing cannot exhaust (a 429 would be fine, but would
# stop the writes from reaching the translation and the upstream).
SEED = (Path(__file__).resolve().parents[2] / "proxy/emulator/demo_seed.toml").read_text(
    encoding="utf-8").replace("requests_per_hour = 4000", "requests_per_hour = 10000000")

FUZZ = settings(max_examples=200, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def proxy_url() -> Iterator[str]:
    """The base URL of a proxy in front of an emulator, both on 127.0.0.1, in their own loop."""
    assert "requests_per_hour = 10000000" in SEED
    loop = asyncio.new_event_loop()
    runners: list[web.AppRunner] = []

    async def start() -> str:
        emulator = web.AppRunner(create_emulator_app(parse_seed(SEED, "fuzz seed")), access_log=None)
        await emulator.setup()
        runners.append(emulator)
        await web.TCPSite(emulator, "127.0.0.1", 0).start()
        emulator_url = "http://127.0.0.1:%d" % emulator.addresses[0][1]
        proxy = web.AppRunner(create_proxy_app(load_settings(environ={}), emulator_url), access_log=None)
        await proxy.setup()
        runners.append(proxy)
        await web.TCPSite(proxy, "127.0.0.1", 0).start()
        return "http://127.0.0.1:%d" % proxy.addresses[0][1]

    async def stop() -> None:
        for runner in reversed(runners):
            await runner.cleanup()

    thread = threading.Thread(target=loop.run_forever, name="fuzz-servers", daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=15)
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


class Client:
    """One keep-alive connection; reopened when the server closed it (e.g. after a 413)."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname, parts.port
        self._connection = self._open()

    def _open(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=10)

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
        for attempt in (1, 2):
            try:
                self._connection.request(method, path, body=body, headers=headers)
                response = self._connection.getresponse()
                data = response.read()
                if response.will_close:
                    self._connection.close()
                    self._connection = self._open()
                return response.status, response.headers, data
            except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
                self._connection.close()
                self._connection = self._open()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._connection.close()


@pytest.fixture(scope="module")
def client(proxy_url) -> Iterator[Client]:
    connection = Client(proxy_url)
    yield connection
    connection.close()


def check_answer(client: Client, method: str, path: str, body: bytes, content_type: str,
                 wants_json: bool) -> int:
    headers = {**basic("tok-phillip"), "Content-Type": content_type}
    if wants_json:
        headers["Accept"] = "application/json"
    status, answer_headers, answer = client.request(method, path, body, headers)
    assert status < 500, (status, body[:200], answer[:300])
    if currently_in_test_context():
        event(f"{method} {status}")  # --hypothesis-show-statistics: how many got through
    if 400 <= status < 500:
        if wants_json:
            assert answer_headers["Content-Type"] == "application/json; charset=utf-8"
            document = json.loads(answer)
            assert list(document) == ["message"], answer[:300]
            assert isinstance(document["message"], str) and document["message"]
        else:
            assert answer_headers["Content-Type"] == "application/xml; charset=utf-8"
            root = etree.fromstring(answer)
            assert root.tag == "error" and [child.tag for child in root] == ["message"], answer[:300]
            assert root.findtext("message")
    elif method == "POST":
        assert status == 201, (status, answer[:300])
        assert answer_headers["Location"].startswith(("http://127.0.0.1:", "http://localhost:"))
    else:
        assert status == 200 and answer == b"", (status, answer[:300])
    return status


# --- strategies ---

ROUTES = st.sampled_from([("POST", "/api/task"), ("PUT", "/api/task/1")])
CONTENT_TYPES = st.sampled_from([
    "application/xml", "text/xml", "application/json", "application/xml; charset=utf-8",
    "application/xml; charset=iso-8859-1", "application/json; charset=utf-8", "text/plain",
    "application/vnd.capsule+json", "application/atom+xml",
])
XML_TYPES = st.sampled_from(["application/xml", "text/xml", "application/xml; charset=utf-8", ""])
JSON_TYPES = st.sampled_from(["application/json", "application/json; charset=utf-8"])

VALID_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<task>\n  <description>Call Eric</description>\n'
             "  <detail>About the renewal</detail>\n  <category>Call</category>\n"
             "  <dueDateTime>2026-07-01T15:00:00Z</dueDateTime>\n  <owner>phillip</owner>\n</task>\n")
VALID_JSON = json.dumps({"task": {"description": "Call Eric", "detail": "About the renewal",
                                  "category": "Call", "dueDate": "2026-07-01T00:00:00Z", "owner": "sofia"}})

SYNTAX = list("<>/&;\"'=!?[]-:#x \n\t\\{},") + ["<!DOCTYPE", "<![CDATA[", "]]>", "&amp;", "&#0;", "&#x10FFFF;",
                                                 "\x00", "\xff", "é", "\u2028", "\ud800", "</task>", "<task>",
                                                 "\\u0000", "null", "true", "1e999", "[", "]"]
INTERESTING = ["", " ", "phillip", "sofia", "PHILLIP", "nobody", "Call", "call", "Email", "Nope",
               "2026-01-05", "2026-01-05T00:00:00Z", "2026-07-01T15:00:00+02:00", "2026-02-30",
               "2026-03-08T02:30:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00",
               "10000-01-01", "2026-01-05T25:00:00Z", "1", "0", "-1", "99999999999999999999", "OPEN",
               "COMPLETED", "x" * 300, "<b>bold</b>", "&amp;", "\u00e9\u4e2d\U0001F600"]
# Mostly real field names and plausible values, so that many documents get through to the
# translation and the upstream; the rest is noise.
NAMES = st.one_of(st.sampled_from(TASK_WRITABLE_FIELDS), st.sampled_from(TASK_WRITABLE_FIELDS),
                  st.sampled_from(TASK_FIELDS + ("task", "tasks", "colour", "Description", "xi:include",
                                                 "a:b", "_x", "user")),
                  st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,12}", fullmatch=True))
TEXTS = st.one_of(st.sampled_from(INTERESTING), st.sampled_from(INTERESTING),
                  st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=40),
                  st.text(max_size=40))
VALID_START = (("description", "Fuzzed"), ("dueDate", "2026-01-05"))


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """`base` with a few random byte-level edits: delete, insert, replace, duplicate, truncate."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "truncate", "syntax"]))
        at = round(draw(st.floats(0, 1)) * len(data))  # anywhere, not mostly at the start
        if op == "delete" and data:
            del data[at:at + draw(st.integers(1, 8))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 30))]
        elif op == "truncate":
            del data[at:]
        elif op == "syntax":
            data[at:at] = draw(st.sampled_from(SYNTAX)).encode("utf-8", "surrogatepass")
    return bytes(data)


@st.composite
def task_xml(draw) -> bytes:
    """A <task>-like document: random element names, values and attributes, maybe malformed."""
    def attributes() -> str:
        if draw(st.integers(0, 5)) > 0:
            return ""
        pairs = draw(st.lists(st.tuples(NAMES, TEXTS), min_size=1, max_size=2))
        return "".join(f' {name}="{xml_escape(value).replace(chr(34), "&quot;")}"' for name, value in pairs)

    children = []
    fields = draw(st.lists(st.tuples(NAMES, TEXTS), max_size=6))
    if draw(st.booleans()):
        fields = list(VALID_START) + fields
    for name, value in fields:
        value = value if draw(st.integers(0, 4)) == 0 else xml_escape(value)
        if draw(st.integers(0, 9)) == 0:
            value = f"<![CDATA[{value}]]>"
        children.append(f"<{name}{attributes()}>{value}</{name}>" if value or draw(st.booleans())
                        else f"<{name}/>")
    root = draw(st.sampled_from(["task"] * 6 + ["tasks", "Task", "error"]))
    document = f"<{root}{attributes()}>{''.join(children)}</{root}>"
    encoding = draw(st.sampled_from([None, None, None, "UTF-8", "utf-8", "ISO-8859-1", "windows-1252", "US-ASCII",
                                     "UTF-16", "latin1", "bogus-1"]))
    if encoding is not None:
        document = f'<?xml version="1.0" encoding="{encoding}"?>' + document
    codec = {"ISO-8859-1": "latin-1", "windows-1252": "cp1252", "latin1": "latin-1",
             "US-ASCII": "ascii"}.get(encoding or "", "utf-8")
    body = document.encode(codec, errors="replace")
    if draw(st.integers(0, 2)) == 0:
        body = draw(mutated(body))
    return body


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXTS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(NAMES, inner, max_size=3)),
    max_leaves=6)


@st.composite
def task_json(draw) -> bytes:
    """A {"task": {...}}-like JSON document with random keys and values of every JSON type."""
    fields = draw(st.lists(st.tuples(NAMES, st.one_of(TEXTS, JSON_VALUES)), max_size=6))
    if draw(st.booleans()):
        fields = list(VALID_START) + fields
    inner = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in fields) + "}"
    root = draw(st.sampled_from(["task"] * 6 + ["tasks", "Task", ""]))
    body = ("{" + json.dumps(root) + ": " + inner + "}").encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 2)) == 0:
        body = draw(mutated(body))
    return body


@st.composite
def plausible_task(draw) -> tuple[bytes, str]:
    """(body, content type): a well-formed task document whose values may still be wrong, so
    that most requests get past decoding into the translation, the look-ups and the upstream."""
    fields = dict(VALID_START) if draw(st.booleans()) else {}
    names = st.sampled_from(TASK_WRITABLE_FIELDS + TASK_WRITABLE_FIELDS + TASK_FIELDS)
    for name, value in draw(st.lists(st.tuples(names, TEXTS), max_size=5)):
        fields[name] = value
    if draw(st.booleans()):
        body = json.dumps({"task": fields}).encode()
        return body, "application/json"
    children = "".join(f"<{name}>{xml_escape(value)}</{name}>" for name, value in fields.items())
    return f"<task>{children}</task>".encode("utf-8", "surrogatepass"), "application/xml"


# --- the properties ---

@FUZZ
@given(body=st.binary(max_size=2000), route=ROUTES, content_type=CONTENT_TYPES, wants_json=st.booleans())
def test_random_bytes_never_give_5xx(client, body, route, content_type, wants_json):
    check_answer(client, *route, body, content_type, wants_json)


@FUZZ
@given(body=mutated(VALID_XML.encode()), route=ROUTES, content_type=XML_TYPES, wants_json=st.booleans())
def test_mutated_valid_xml_never_gives_5xx(client, body, route, content_type, wants_json):
    check_answer(client, *route, body, content_type, wants_json)


@FUZZ
@given(body=task_xml(), route=ROUTES, content_type=XML_TYPES, wants_json=st.booleans())
def test_random_task_like_xml_never_gives_5xx(client, body, route, content_type, wants_json):
    check_answer(client, *route, body, content_type, wants_json)


@FUZZ
@given(body=st.one_of(mutated(VALID_JSON.encode()), task_json()), route=ROUTES, content_type=JSON_TYPES,
       wants_json=st.booleans())
def test_mutated_and_random_json_never_give_5xx(client, body, route, content_type, wants_json):
    check_answer(client, *route, body, content_type, wants_json)


@FUZZ
@given(body=st.one_of(task_xml(), task_json(), mutated(VALID_XML.encode())), route=ROUTES,
       content_type=st.sampled_from(["application/json", "application/xml"]), wants_json=st.booleans())
def test_xml_sent_as_json_and_json_sent_as_xml_never_give_5xx(client, body, route, content_type, wants_json):
    check_answer(client, *route, body, content_type, wants_json)


@FUZZ
@given(document=plausible_task(), route=ROUTES, wants_json=st.booleans())
def test_plausible_documents_with_odd_values_never_give_5xx(client, document, route, wants_json):
    body, content_type = document
    check_answer(client, *route, body, content_type, wants_json)


def test_the_fuzzed_proxy_still_creates_and_updates(client):
    # A control: the harness does reach the upstream, and valid documents are accepted.
    assert check_answer(client, "POST", "/api/task", VALID_XML.encode(), "application/xml", False) == 201
    assert check_answer(client, "PUT", "/api/task/1", VALID_JSON.encode(), "application/json", True) == 200
    assert check_answer(client, "POST", "/api/task", b"<task/>", "application/xml", True) == 400
