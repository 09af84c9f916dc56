"""Seed files: the demo seed, strict parsing with messages naming the entry, and the CLI refusing a bad seed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from proxy.emulator.seed import SeedError, load_seed, parse_seed

from .helpers import auth

ROOT = Path(__file__).resolve().parents[2]

USER = '[[users]]\nusername = "ann"\ntoken = "tok-ann"\n'
PERSON = '[[parties]]\nid = 1\ntype = "person"\nfirstName = "Eric"\n'
ORG = '[[parties]]\nid = 2\ntype = "organisation"\nname = "ABC"\n'


def test_demo_seed_loads():
    seed = load_seed(None)
    assert seed.subdomain == "sample" and seed.requests_per_hour == 4000
    assert len(seed.users) == 2
    zones = {user["timezone"] for user in seed.users}
    assert len(zones) == 2
    for zone in zones:
        ZoneInfo(zone)
    assert len({user["token"] for user in seed.users}) == 2
    assert seed.categories
    assert {party["type"] for party in seed.parties} == {"person", "organisation"}
    party_ids = {party["id"] for party in seed.parties}
    assert seed.opportunities and all(o["party"] in party_ids for o in seed.opportunities)
    assert seed.kases and all(k["party"] in party_ids for k in seed.kases)
    assert len(seed.tasks) == 3
    assert all(task["status"] == "OPEN" for task in seed.tasks)


async def test_demo_seed_through_the_api(emulator):
    headers = auth("tok-phillip")
    users = (await (await emulator.get("/api/v2/users", headers=headers)).json())["users"]
    assert {u["timezone"] for u in users} == {"America/New_York", "Europe/Rome"}
    for path, key, count in [("/api/v2/categories", "categories", 4), ("/api/v2/parties", "parties", 6),
                             ("/api/v2/opportunities", "opportunities", 2), ("/api/v2/kases", "kases", 1),
                             ("/api/v2/tasks", "tasks", 3), ("/api/v2/pipelines", "pipelines", 2),
                             ("/api/v2/milestones", "milestones", 4),
                             ("/api/v2/trackdefinitions", "trackDefinitions", 2), ("/api/v2/parties/tags", "tags", 2),
                             ("/api/v2/parties/fields/definitions", "definitions", 5),
                             ("/api/v2/parties/1/entries", "entries", 2)]:
        resp = await emulator.get(path, headers=headers)
        assert len((await resp.json())[key]) == count, path
    tasks = (await (await emulator.get("/api/v2/tasks", headers=headers)).json())["tasks"]
    first = tasks[0]
    assert first["owner"]["username"] == "phillip"
    assert first["category"]["name"] == "Call"
    assert first["party"]["id"] == 1 and first["dueTime"] == "15:00:00" and first["dueOn"] == "2026-12-01"
    assert tasks[1]["owner"]["username"] == "sofia" and tasks[1]["opportunity"]["id"] == 1
    assert tasks[2]["kase"]["id"] == 1


BAD_SEEDS = [
    pytest.param(USER + "colour = 1\n", "unknown key 'colour'", id="unknown-top-level-key"),
    pytest.param("[sites]\nname = 'x'\n" + USER, "unknown key 'sites'", id="misspelled-table"),
    pytest.param('[[users]]\nusername = "a"\ntoken = "t"\nnickname = "x"\n', "users[1]: unknown key 'nickname'",
                 id="unknown-key-in-entry"),
    pytest.param(USER + '[site]\nsubdomain = "x"\nregion = "eu"\n', "site: unknown key 'region'",
                 id="unknown-key-in-site"),
    pytest.param(USER + PERSON + '[[parties]]\nid = 1\ntype = "organisation"\nname = "X"\n', "parties[2].id",
                 id="duplicate-id"),
    pytest.param('[[users]]\nid = 0\nusername = "a"\ntoken = "t"\n', "users[1].id", id="id-zero"),
    pytest.param(USER + PERSON + '[[opportunities]]\nname = "Deal"\nparty = 9\n', "opportunities[1].party",
                 id="dangling-opportunity-party"),
    pytest.param(USER + PERSON + '[[kases]]\nname = "Case"\nparty = 9\n', "kases[1].party",
                 id="dangling-kase-party"),
    pytest.param(USER + '[[tasks]]\ndescription = "d"\ndueOn = 2026-01-01\ncategory = "Nope"\n', "tasks[1].category",
                 id="dangling-task-category-name"),
    pytest.param(USER + '[[tasks]]\ndescription = "d"\ndueOn = 2026-01-01\ncategory = 4\n', "tasks[1].category",
                 id="dangling-task-category-id"),
    pytest.param(USER + '[[tasks]]\ndescription = "d"\ndueOn = 2026-01-01\nowner = "zed"\n', "tasks[1].owner",
                 id="dangling-task-owner"),
    pytest.param(USER + '[[tasks]]\ndescription = "d"\ndueOn = 2026-01-01\nparty = 3\n', "tasks[1].party",
                 id="dangling-task-party"),
    pytest.param(USER + PERSON + '[[opportunities]]\nname = "Deal"\nparty = 1\n'
                 '[[tasks]]\ndescription = "d"\ndueOn = 2026-01-01\nparty = 1\nopportunity = 1\n', "tasks[1]",
                 id="task-two-links"),
    pytest.param('[[users]]\nusername = "a"\ntoken = "t"\ntimezone = "Mars/Base"\n', "users[1].timezone",
                 id="bad-timezone"),
    pytest.param('[[users]]\nusername = "a"\ntoken = "t"\ntimezone = "America"\n', "users[1].timezone",
                 id="timezone-directory"),
    pytest.param(USER + '[[users]]\nusername = "bob"\ntoken = "tok-ann"\n', "users[2].token", id="duplicate-token"),
    pytest.param(USER + '[[users]]\nusername = "ann"\ntoken = "tok-bob"\n', "users[2].username",
                 id="duplicate-username"),
    pytest.param('[[users]]\nusername = "a"\ntoken = "  "\n', "users[1].token", id="blank-token"),
    pytest.param(USER + '[[categories]]\nname = "Call"\ncolour = "blue"\n', "categories[1].colour",
                 id="bad-colour"),
    pytest.param(USER + '[[categories]]\nname = "Call"\n[[categories]]\nname = "Call"\n', "categories[2].name",
                 id="duplicate-category"),
    pytest.param(USER + '[[parties]]\ntype = "person"\nname = "Eric Jones"\n', "parties[1]", id="person-with-name"),
    pytest.param(USER + '[[parties]]\ntype = "person"\n', "parties[1]", id="person-without-names"),
    pytest.param(USER + '[[parties]]\ntype = "organisation"\nfirstName = "E"\nname = "X"\n', "parties[1]",
                 id="organisation-with-first-name"),
    pytest.param(USER + '[[parties]]\ntype = "company"\nname = "X"\n', "parties[1].type", id="bad-party-type"),
    pytest.param('[[users]]\nusername = "a"\n', "users[1]: missing required key 'token'", id="user-without-token"),
    pytest.param(USER + '[[categories]]\ncolour = "#ffffff"\n', "categories[1]: missing required key 'name'",
                 id="category-without-name"),
    pytest.param(USER + PERSON + '[[opportunities]]\nname = "Deal"\n', "opportunities[1]: missing required key 'party'",
                 id="opportunity-without-party"),
    pytest.param(USER + '[[tasks]]\ndescription = "d"\n', "tasks[1]: missing required key 'dueOn'",
                 id="task-without-dueOn"),
    pytest.param(USER + '[[tasks]]\ndescription = "d"\ndueOn = "2026-02-30"\n', "tasks[1].dueOn", id="bad-dueOn"),
    pytest.param(USER + '[[tasks]]\ndescription = "d"\ndueOn = 2026-02-03T10:00:00\n', "tasks[1].dueOn",
                 id="datetime-dueOn"),
    pytest.param(USER + '[[tasks]]\ndescription = "d"\ndueOn = 2026-02-03\ndueTime = "25:00"\n', "tasks[1].dueTime",
                 id="bad-dueTime"),
    pytest.param(USER + '[[tasks]]\ndescription = "d"\ndueOn = 2026-02-03\nstatus = "DONE"\n', "tasks[1].status",
                 id="bad-status"),
    pytest.param('[[users]]\nid = "1"\nusername = "a"\ntoken = "t"\n', "users[1].id", id="wrong-type"),
    pytest.param('[[users]]\nusername = "a"\ntoken = true\n', "users[1].token", id="bool-token"),
    pytest.param('[site]\nname = "x"\n', "users", id="no-users"),
    pytest.param('users = "ann"\n', "users", id="users-not-array"),
    pytest.param(USER + "[limits]\nrequests_per_hour = 0\n", "limits.requests_per_hour", id="zero-limit"),
    pytest.param(USER + '[site]\nsubdomain = "Not Valid"\n', "site.subdomain", id="bad-subdomain"),
    pytest.param('[[users]\nusername = "a"\n', "not valid TOML", id="invalid-toml"),
    pytest.param('[[users]]\nusername = "a"\nusername = "b"\ntoken = "t"\n', "not valid TOML", id="duplicate-key"),
]


@pytest.mark.parametrize("text, named", BAD_SEEDS)
def test_bad_seed_is_rejected_naming_the_entry(text, named):
    with pytest.raises(SeedError) as caught:
        parse_seed(text, "my-seed.toml")
    message = str(caught.value)
    assert message.startswith("seed my-seed.toml: ")
    assert named in message


def test_ids_are_assigned_when_left_out():
    seed = parse_seed(USER + '[[users]]\nid = 7\nusername = "bob"\ntoken = "tok-bob"\n'
                      '[[categories]]\nname = "A"\n[[categories]]\nid = 5\nname = "B"\n[[categories]]\nname = "C"\n'
                      '[[parties]]\ntype = "person"\nlastName = "Jones"\n'
                      '[[tasks]]\ndescription = "one"\ndueOn = 2026-01-01\n'
                      '[[tasks]]\ndescription = "two"\ndueOn = 2026-01-02\n', "x")
    assert [u["id"] for u in seed.users] == [8, 7]
    assert [c["id"] for c in seed.categories] == [6, 5, 7]
    assert [p["id"] for p in seed.parties] == [1]
    assert [t["id"] for t in seed.tasks] == [1, 2]


def test_defaults_and_names_are_resolved():
    seed = parse_seed(USER + '[[users]]\nusername = "bob"\ntoken = "tok-bob"\n'
                      '[[categories]]\nname = "Call"\n'
                      '[[tasks]]\ndescription = "d"\ndueOn = "2026-01-05"\ndueTime = "09:30"\n'
                      'owner = "bob"\ncategory = "Call"\nstatus = "completed"\n', "x")
    assert seed.users[0]["name"] == "ann" and seed.users[0]["timezone"] == "UTC"
    assert seed.categories[0]["colour"] == "#999999"
    task = seed.tasks[0]
    assert (task["owner"], task["category"], task["dueTime"], task["status"], task["dueOn"]) == \
           (2, 1, "09:30:00", "COMPLETED", "2026-01-05")


async def test_seeded_records_keep_their_assigned_ids(make_emulator):
    client = await make_emulator(USER + '[[parties]]\nid = 4\ntype = "organisation"\nname = "Four"\n'
                                 '[[parties]]\ntype = "person"\nfirstName = "Five"\n'
                                 '[[tasks]]\ndescription = "d"\ndueOn = 2026-01-01\nparty = 4\n'
                                 '[[tasks]]\ndescription = "e"\ndueOn = 2026-01-01\nstatus = "COMPLETED"\n')
    headers = auth("tok-ann")
    parties = (await (await client.get("/api/v2/parties", headers=headers)).json())["parties"]
    assert [(p["id"], p.get("name"), p.get("firstName")) for p in parties] == [(4, "Four", None), (5, None, "Five")]
    done = (await (await client.get("/api/v2/tasks/2", headers=headers)).json())["task"]
    assert done["status"] == "COMPLETED" and done["completedBy"] == "ann"
    assert done["completedAt"] is not None
    created = (await (await client.post("/api/v2/tasks", headers=headers,
                                        json={"task": {"description": "n", "dueOn": "2026-01-01"}})).json())
    assert created["task"]["id"] == 3


def test_load_seed_reads_a_file(tmp_path):
    path = tmp_path / "seed.toml"
    path.write_text(USER, "utf-8")
    seed = load_seed(path)
    assert seed.source == str(path) and seed.users[0]["username"] == "ann"
    with pytest.raises(SeedError, match="file not found"):
        load_seed(tmp_path / "missing.toml")


@pytest.mark.parametrize("text, named", [
    pytest.param('[[users]]\nusername = "a"\ntoken = "t"\ntimezone = "Mars/Base"\n', "users[1].timezone",
                 id="bad-timezone"),
    pytest.param(USER + PERSON + '[[opportunities]]\nname = "Deal"\nparty = 9\n', "opportunities[1].party",
                 id="dangling-party"),
    pytest.param(USER + ORG + '[[tasks]]\ndescription = "d"\ndueOn = 2026-01-01\ncategory = "Nope"\n',
                 "tasks[1].category", id="dangling-category"),
])
def test_cli_refuses_a_bad_seed(tmp_path, text, named):
    bad = tmp_path / "bad.toml"
    bad.write_text(text, "utf-8")
    result = subprocess.run([sys.executable, "-m", "proxy", "emulator", "--seed", str(bad), "--port", "0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result
    assert named in result.stderr
    assert str(bad) in result.stderr
    assert "listening" not in result.stdout


def test_cli_refuses_a_missing_seed_file(tmp_path):
    missing = tmp_path / "nope.toml"
    result = subprocess.run([sys.executable, "-m", "proxy", "emulator", "--seed", str(missing), "--port", "0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "file not found" in result.stderr and str(missing) in result.stderr
