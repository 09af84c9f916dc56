"""Small test projects that use (or do not use) the capsule_v2 fixtures, written out by pytester.

They talk to the emulator with `requests`, synchronously, as a team's own v2 tests would.
"""

INI = """
[pytest]
addopts = --strict-markers
filterwarnings =
    error
    ignore:The configuration option "asyncio_default_fixture_loop_scope" is unset
"""

FUNCTION_SCOPE = '''
import re

import pytest
import requests

TASK = {"task": {"description": "Written by the first test", "dueOn": "2026-12-01"}}
created = {}


def test_a_fresh_emulator_with_the_demo_seed(capsule_v2):
    assert re.fullmatch(r"http://127\\.0\\.0\\.1:\\d+/api/v2", capsule_v2.base_url)
    assert capsule_v2.root_url + "/api/v2" == capsule_v2.base_url
    assert capsule_v2.url("/tasks") == capsule_v2.url("tasks") == capsule_v2.base_url + "/tasks"
    assert capsule_v2.tokens == {"phillip": "tok-phillip", "sofia": "tok-sofia"}
    assert capsule_v2.token == "tok-phillip"
    assert capsule_v2.headers() == {"Authorization": "Bearer tok-phillip"}
    me = requests.get(capsule_v2.url("users/current"), headers=capsule_v2.headers("sofia"))
    assert me.json()["user"]["username"] == "sofia"
    assert requests.get(capsule_v2.url("tasks")).status_code == 401
    assert requests.get(capsule_v2.root_url + "/healthz").status_code == 200
    with pytest.raises(KeyError, match="no user 'nobody'"):
        capsule_v2.headers("nobody")


def test_creates_a_task(capsule_v2):
    with requests.Session() as session:  # a keep-alive connection still open at teardown
        session.headers.update(capsule_v2.headers())
        assert len(session.get(capsule_v2.url("tasks")).json()["tasks"]) == 3
        answer = session.post(capsule_v2.url("tasks"), json=TASK)
        assert answer.status_code == 201, answer.text
        created["id"] = answer.json()["task"]["id"]
        assert session.get(capsule_v2.url(f"tasks/{created['id']}")).status_code == 200
        assert len(session.get(capsule_v2.url("tasks")).json()["tasks"]) == 4


def test_the_next_test_starts_again_from_the_seed(capsule_v2):
    answer = requests.get(capsule_v2.url("tasks"), headers=capsule_v2.headers())
    assert len(answer.json()["tasks"]) == 3
    assert TASK["task"]["description"] not in answer.text
    gone = requests.get(capsule_v2.url(f"tasks/{created['id']}"), headers=capsule_v2.headers())
    assert gone.status_code == 404
'''

SESSION_SCOPE = '''
import requests

TASK = {"task": {"description": "Kept for the whole run", "dueOn": "2026-12-01"}}
seen = {}


def test_one(capsule_v2_session):
    answer = requests.post(capsule_v2_session.url("tasks"), json=TASK, headers=capsule_v2_session.headers())
    assert answer.status_code == 201
    seen["id"], seen["url"] = answer.json()["task"]["id"], capsule_v2_session.base_url


def test_two_sees_what_one_wrote(capsule_v2_session):
    assert capsule_v2_session.base_url == seen["url"]
    answer = requests.get(capsule_v2_session.url(f"tasks/{seen['id']}"), headers=capsule_v2_session.headers())
    assert answer.status_code == 200


def test_function_and_session_emulators_are_apart(capsule_v2, capsule_v2_session):
    assert capsule_v2.base_url != capsule_v2_session.base_url
    answer = requests.get(capsule_v2.url(f"tasks/{seen['id']}"), headers=capsule_v2.headers())
    assert answer.status_code == 404
'''

SMALL_SEED = """
[site]
subdomain = "tiny"
name = "Tiny Ltd"

[[users]]
username = "alice"
token = "tok-alice"

[[tasks]]
description = "From the ini seed"
dueOn = 2026-12-01
"""

OTHER_SEED = """
[[users]]
username = "dora"
token = "tok-dora"
"""

SEEDS = '''
import pytest
import requests

DICT_SEED = {
    "site": {"name": "Dict Ltd"},
    "users": [{"username": "bob", "token": "tok-bob"}, {"username": "carol", "token": "tok-carol"}],
    "parties": [{"id": 7, "type": "organisation", "name": "Acme"}],
    "tasks": [{"description": "Ring Acme", "dueOn": "2026-12-01", "owner": "carol", "party": 7}],
}


def site(emulator):
    return requests.get(emulator.url("site"), headers=emulator.headers()).json()["site"]["name"]


def test_the_ini_seed(capsule_v2):
    assert capsule_v2.tokens == {"alice": "tok-alice"}
    assert site(capsule_v2) == "Tiny Ltd"
    tasks = requests.get(capsule_v2.url("tasks"), headers=capsule_v2.headers()).json()["tasks"]
    assert [t["description"] for t in tasks] == ["From the ini seed"]


def test_the_session_emulator_uses_the_ini_seed_too(capsule_v2_session):
    assert capsule_v2_session.tokens == {"alice": "tok-alice"}


@pytest.mark.capsule_v2(seed=DICT_SEED)
def test_a_dict_seed(capsule_v2):
    assert capsule_v2.tokens == {"bob": "tok-bob", "carol": "tok-carol"} and capsule_v2.token == "tok-bob"
    assert site(capsule_v2) == "Dict Ltd"
    tasks = requests.get(capsule_v2.url("tasks"), headers=capsule_v2.headers("carol")).json()["tasks"]
    assert [(t["description"], t["owner"]["username"], t["party"]["id"]) for t in tasks] == [("Ring Acme", "carol", 7)]


@pytest.mark.capsule_v2(seed=DICT_SEED)
def test_the_dict_is_not_changed_by_a_test(capsule_v2):
    assert "id" not in DICT_SEED["users"][0] and DICT_SEED["tasks"][0]["owner"] == "carol"


@pytest.mark.capsule_v2(seed=\'\'\'
[[users]]
username = "erin"
token = "tok-erin"
\'\'\')
def test_a_toml_string(capsule_v2):
    assert capsule_v2.tokens == {"erin": "tok-erin"}


@pytest.mark.capsule_v2(seed="seeds/other.toml")
def test_a_toml_file_relative_to_the_ini_file(capsule_v2):
    assert capsule_v2.tokens == {"dora": "tok-dora"}
    assert capsule_v2.seed.source.endswith("other.toml")


@pytest.mark.capsule_v2(seed=None)
def test_none_is_the_demo_seed(capsule_v2):
    assert capsule_v2.token == "tok-phillip"


class TestAClassMarker:
    pytestmark = pytest.mark.capsule_v2(seed={"users": [{"username": "kim", "token": "tok-kim"}]})

    def test_applies_to_every_test_in_the_class(self, capsule_v2):
        assert capsule_v2.tokens == {"kim": "tok-kim"}

    @pytest.mark.capsule_v2(seed=None)
    def test_the_closest_marker_wins(self, capsule_v2):
        assert capsule_v2.token == "tok-phillip"
'''

OVERRIDE_CONFTEST = '''
import pytest


@pytest.fixture(scope="session")
def capsule_v2_seed():
    return {"users": [{"username": "frank", "token": "tok-frank"}]}
'''

OVERRIDE = '''
def test_the_projects_own_capsule_v2_seed_fixture(capsule_v2, capsule_v2_session):
    assert capsule_v2.tokens == capsule_v2_session.tokens == {"frank": "tok-frank"}
'''

BAD_SEEDS = '''
import pytest


@pytest.mark.capsule_v2(seed={"users": []})
def test_no_users(capsule_v2):
    pass


@pytest.mark.capsule_v2(sead={})
def test_misspelt_marker(capsule_v2):
    pass
'''

# Run in a subprocess with pytest-aiohttp off, so that any aiohttp in sys.modules is the plugin's.
IDLE_THEN_USED = '''
import os
import sys
import threading

import pytest

EMULATOR_THREADS = ("capsule-v2-emulator", "emulator-db")


def sockets():
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to list this process's sockets")
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            found += [fd] if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:") else []
        except OSError:
            pass
    return found


def threads():
    return sorted({t.name.partition("_")[0] for t in threading.enumerate() if t.name.startswith(EMULATOR_THREADS)})


def test_1_loaded_and_idle(request):
    assert request.config.pluginmanager.has_plugin("capsule_proxy")
    assert "proxy.pytest_plugin" in sys.modules
    assert "aiohttp" not in sys.modules
    assert not [m for m in sys.modules if m.startswith("proxy.emulator")]
    assert not threads()
    assert not sockets()


def test_2_the_probes_do_see_an_emulator(capsule_v2):
    assert "aiohttp" in sys.modules
    assert threads() == sorted(EMULATOR_THREADS)
    assert sockets()
'''

SHARED_CONFTEST = '''
import pytest


@pytest.fixture
def capsule_v2(capsule_v2_session):
    return capsule_v2_session
'''

SHARED = '''
import requests

TASK = {"task": {"description": "Kept for the next test", "dueOn": "2026-12-01"}}


def test_one(capsule_v2):
    assert capsule_v2.tokens == {"alice": "tok-alice"}
    assert requests.post(capsule_v2.url("tasks"), json=TASK, headers=capsule_v2.headers()).status_code == 201


def test_two(capsule_v2):
    tasks = requests.get(capsule_v2.url("tasks"), headers=capsule_v2.headers()).json()["tasks"]
    assert [t["description"] for t in tasks] == ["From the ini seed", "Kept for the next test"]
'''
