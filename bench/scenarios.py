"""The scenario table: one entry per measured v1 request, as data.

Each scenario names the family, the request the proxy gets and what a correct answer looks like,
the request its pass-through baseline gets (bench/passthrough.py maps it to one untranslated v2
call), the connections, and ``max_calls``: the fewest upstream calls per request, look-ups
excluded, that v2 allows once the look-up caches are warm (a show is one GET; a list window is
its pages; a create under a parent checks the parent first, P5). The goals (bench/report.py)
refer to scenarios by name.

Families the proxy does not translate yet answer 501: the suite reports their scenarios as not
available, so the same table measures them once they are merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.resources.history import ENTRY_PAGE

from .canned import DEFAULT_RECORDS, HISTORY_ITEMS


@dataclass(frozen=True)
class Req:
    """One request shape, and what a correct answer looks like (checked before loading)."""
    method: str
    path: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    status: tuple[int, ...] = (200,)
    marker: bytes | None = None            # must appear in the answer body
    location_suffix: str | None = None     # the Location header must end with this


@dataclass(frozen=True)
class Scenario:
    name: str
    family: str                      # task, party, opportunity, kase, history, tag, customfield
    kind: str                        # show, list, create, update, scan
    title: str
    connections: int
    proxy: Req
    baseline: Req | None             # what the pass-through (and nginx) get; None: no baseline
    max_calls: int | None = None     # upstream calls per request in steady state (look-ups excluded)
    nginx: bool = False
    quick: bool = True               # part of --quick
    tags: tuple[str, ...] = field(default_factory=tuple)


XML = (("Content-Type", "application/xml"),)
JSON_ACCEPT = (("Accept", "application/json"),)
CREATED = DEFAULT_RECORDS + 1        # the id the canned upstream gives every create

POST_TASK = (b"<task><description>Call Eric about the renewal</description>"
             b"<detail>Bring the signed order form and the revised price list.</detail>"
             b"<category>Call</category><owner>phillip</owner>"
             b"<dueDateTime>2026-04-21T15:00:00Z</dueDateTime></task>")
PUT_TASK = (b"<task><description>Call Eric about the renewal, again</description>"
            b"<category>Meeting</category><dueDateTime>2026-04-22T14:30:00Z</dueDateTime></task>")
POST_PERSON = (b"<person><title>Ms</title><firstName>Anna</firstName><lastName>Smith</lastName>"
               b"<jobTitle>Buyer</jobTitle><organisationName>ABC Furniture</organisationName>"
               b"<about>Met at the trade fair</about><contacts>"
               b"<address><type>Office</type><street>1 High Street</street><city>London</city>"
               b"<zip>N1 1AA</zip><country>United Kingdom</country></address>"
               b"<email><type>Work</type><emailAddress>anna@abcfurniture.example</emailAddress></email>"
               b"<phone><type>Mobile</type><phoneNumber>+44 7700 900124</phoneNumber></phone>"
               b"<website><type>Work</type><webAddress>www.abcfurniture.example</webAddress>"
               b"<webService>URL</webService></website></contacts></person>")
POST_OPPORTUNITY = (b"<opportunity><name>CRM System, second site</name><description>10 more seats</description>"
                    b"<currency>GBP</currency><value>5000.00</value><durationBasis>FIXED</durationBasis>"
                    b"<expectedCloseDate>2026-12-31T00:00:00Z</expectedCloseDate><milestone>Bid</milestone>"
                    b"<owner>phillip</owner></opportunity>")
POST_KASE = (b"<kase><name>Refund</name><description>Invoice 1042 paid twice</description>"
             b"<status>OPEN</status><owner>phillip</owner></kase>")
POST_HISTORY = (b"<historyItem><note>Called Eric about the renewal; he wants the revised price list.</note>"
                b"</historyItem>")
PUT_FIELDS = (b"<customFields><customField><label>NI Number</label><text>AB123456D</text></customField>"
              b"<customField><label>Lead Source</label><text>referral</text></customField></customFields>")


def _v2(path: str, marker: bytes, method: str = "GET", body: bytes | None = None,
        status: tuple[int, ...] = (200,), location_suffix: str | None = None) -> Req:
    return Req(method, path, body, XML if body else (), status, marker, location_suffix)


SCENARIOS: tuple[Scenario, ...] = (
    # --- tasks ---------------------------------------------------------------------------------
    Scenario("get_task", "task", "show", "GET /api/task/10 (XML)", 32,
             Req("GET", "/api/task/10", marker=b"<partyName>Eric Jones</partyName>"),
             _v2("/api/task/10", b'"task"'), max_calls=1, nginx=True),
    Scenario("get_task_json", "task", "show", "GET /api/task/10 (v1 JSON)", 32,
             Req("GET", "/api/task/10", headers=JSON_ACCEPT, marker=b'"partyName":"Eric Jones"'),
             Req("GET", "/api/task/10", headers=JSON_ACCEPT, marker=b'"task"'), max_calls=1, quick=False),
    Scenario("post_task", "task", "create", "POST /api/task (XSD, look-ups, Location)", 32,
             Req("POST", "/api/task", POST_TASK, XML, (201,), location_suffix=f"/api/task/{CREATED}"),
             _v2("/api/task", b'"task"', "POST", POST_TASK, (201,), f"/api/v2/tasks/{CREATED}"),
             max_calls=1, nginx=True),
    Scenario("put_task", "task", "update", "PUT /api/task/10 (XML; the stored task decides the due time, T2)", 32,
             Req("PUT", "/api/task/10", PUT_TASK, XML),
             _v2("/api/task/10", b'"task"', "PUT", PUT_TASK), max_calls=2, quick=False),
    Scenario("list_tasks", "task", "list", "GET /api/tasks?limit=100 (1 page -> 100 tasks, XML)", 16,
             Req("GET", "/api/tasks?limit=100", marker=b'<tasks size="100">'),
             _v2("/api/tasks", b'"tasks"'), max_calls=1, nginx=True),
    Scenario("list_window", "task", "list", "GET /api/tasks?start=50&limit=100 (2 pages -> 100 tasks)", 16,
             Req("GET", "/api/tasks?start=50&limit=100", marker=b'<tasks size="100">'),
             _v2("/api/tasks", b'"tasks"'), max_calls=2, quick=False),
    Scenario("party_list", "task", "scan", "GET /api/party/1/tasks?limit=100 (scan 10 pages -> 100)", 8,
             Req("GET", "/api/party/1/tasks?limit=100", marker=b'<tasks size="100">'), None, max_calls=11, quick=False),
    # --- parties -------------------------------------------------------------------------------
    Scenario("get_party", "party", "show", "GET /api/party/1 (XML, a person with contacts)", 32,
             Req("GET", "/api/party/1", marker=b"<firstName>Eric</firstName>"),
             _v2("/api/party/1", b'"party"'), max_calls=1),
    Scenario("list_parties", "party", "list", "GET /api/party?limit=100 (1 page -> 100 parties, XML)", 16,
             Req("GET", "/api/party?limit=100", marker=b'<parties size="100">'),
             _v2("/api/party", b'"parties"'), max_calls=1),
    Scenario("post_person", "party", "create", "POST /api/person (XSD, contacts, Location)", 32,
             Req("POST", "/api/person", POST_PERSON, XML, (201,), location_suffix=f"/api/party/{CREATED}"),
             _v2("/api/person", b'"party"', "POST", POST_PERSON, (201,), f"/api/v2/parties/{CREATED}"),
             max_calls=1),
    # --- opportunities ---------------------------------------------------------------------------
    Scenario("get_opportunity", "opportunity", "show", "GET /api/opportunity/1 (XML)", 32,
             Req("GET", "/api/opportunity/1", marker=b"<name>CRM System</name>"),
             _v2("/api/opportunity/1", b'"opportunity"'), max_calls=1),
    Scenario("list_opportunities", "opportunity", "list", "GET /api/opportunity?limit=100 (1 page, XML)", 16,
             Req("GET", "/api/opportunity?limit=100", marker=b'<opportunities size="100">'),
             _v2("/api/opportunity", b'"opportunities"'), max_calls=1),
    Scenario("post_opportunity", "opportunity", "create", "POST /api/party/1/opportunity (milestone by name)", 32,
             Req("POST", "/api/party/1/opportunity", POST_OPPORTUNITY, XML, (201,),
                 location_suffix=f"/api/opportunity/{CREATED}"),
             _v2("/api/party/1/opportunity", b'"opportunity"', "POST", POST_OPPORTUNITY, (201,),
                 f"/api/v2/opportunities/{CREATED}"), max_calls=2),
    # --- cases -----------------------------------------------------------------------------------
    Scenario("get_kase", "kase", "show", "GET /api/kase/1 (XML)", 32,
             Req("GET", "/api/kase/1", marker=b"<name>Invoicing</name>"),
             _v2("/api/kase/1", b'"kase"'), max_calls=1),
    Scenario("list_kases", "kase", "list", "GET /api/kase?limit=100 (1 page, XML)", 16,
             Req("GET", "/api/kase?limit=100", marker=b'<kases size="100">'),
             _v2("/api/kase", b'"kases"'), max_calls=1),
    Scenario("post_kase", "kase", "create", "POST /api/party/1/kase", 32,
             Req("POST", "/api/party/1/kase", POST_KASE, XML, (201,), location_suffix=f"/api/kase/{CREATED}"),
             _v2("/api/party/1/kase", b'"kase"', "POST", POST_KASE, (201,), f"/api/v2/kases/{CREATED}"),
             max_calls=2),
    # --- history ----------------------------------------------------------------------------------
    Scenario("list_history", "history", "list",
             f"GET /api/party/1/history ({HISTORY_ITEMS} notes, v2 pages of {ENTRY_PAGE}, XML)", 16,
             Req("GET", "/api/party/1/history", marker=f'<history size="{HISTORY_ITEMS}">'.encode()),
             _v2("/api/party/1/history", b'"entries"'), max_calls=-(-HISTORY_ITEMS // ENTRY_PAGE)),
    Scenario("post_history", "history", "create", "POST /api/party/1/history (a note)", 32,
             Req("POST", "/api/party/1/history", POST_HISTORY, XML, (201,),
                 location_suffix=f"/api/history/{3 * HISTORY_ITEMS + 1}"),
             _v2("/api/party/1/history", b'"entry"', "POST", POST_HISTORY, (201,),
                 f"/api/v2/entries/{3 * HISTORY_ITEMS + 1}"), max_calls=2),
    # --- tags ---------------------------------------------------------------------------------------
    Scenario("list_tags", "tag", "list", "GET /api/party/1/tag (embed=tags)", 32,
             Req("GET", "/api/party/1/tag", marker=b"<name>VIP</name>"),
             _v2("/api/party/1/tag", b'"tags"'), max_calls=1),
    Scenario("post_tag", "tag", "create", "POST /api/party/1/tag/Prospect (201 added / 200 there)", 32,
             Req("POST", "/api/party/1/tag/Prospect", status=(200, 201)),
             _v2("/api/party/1/tag/Prospect", b'"party"', "POST", status=(200,)), max_calls=2),
    # --- custom fields ------------------------------------------------------------------------------
    Scenario("list_customfields", "customfield", "list", "GET /api/party/1/customfields (embed=fields)", 32,
             Req("GET", "/api/party/1/customfields", marker=b"<label>NI Number</label>"),
             _v2("/api/party/1/customfields", b'"fields"'), max_calls=1),
    Scenario("put_customfields", "customfield", "update", "PUT /api/party/1/customfields (2 fields by label)", 32,
             Req("PUT", "/api/party/1/customfields", PUT_FIELDS, XML),
             _v2("/api/party/1/customfields", b'"party"', "PUT", PUT_FIELDS), max_calls=2),
)

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
FAMILIES = tuple(dict.fromkeys(scenario.family for scenario in SCENARIOS))
LATENCY_SCENARIOS = ("get_task", "post_task")
SERVERS = ("proxy", "passthrough", "nginx")

#: The hardening issue's bound: 50 concurrent lists with limit=2000, whatever the client asks.
MEMORY_CONCURRENCY = 50
MEMORY_REQUESTS = (
    ("tasks", Req("GET", "/api/tasks?limit=2000", marker=b'<tasks size="2000">')),
    ("parties", Req("GET", "/api/party?limit=2000", marker=b'<parties size="2000">')),
)
#: RSS per worker with this many connections (goal: ≤ 80 MB).
RSS_CONNECTIONS = 1000
