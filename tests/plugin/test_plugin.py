"""The capsule_v2 pytest plugin (proxy/pytest_plugin.py), run the way a project's tests use it:
pytester writes a small project and runs pytest on it, the plugin loaded from its entry point."""

from __future__ import annotations

import threading
from importlib.metadata import entry_points
from pathlib import Path

import pytest
# Imported here, before pytester's in-process runs: they drop the modules a run imported, and a
# requests imported again beside the http.cookiejar it kept fails ("You can only merge into CookieJar").
import requests  # noqa: F401

from proxy.pytest_plugin import THREAD_NAME, CapsuleV2, resolve_seed
from tests.conftest import ROOT
from tests.plugin import projects

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".ini", pytest=projects.INI)
    return pytester


def emulator_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith((THREAD_NAME, "emulator-db"))]


def test_the_entry_point_is_registered():
    [plugin] = [e for e in entry_points(group="pytest11") if e.name == "capsule_proxy"]
    assert plugin.value == "proxy.pytest_plugin"


def test_the_fixtures_and_the_marker_come_from_the_entry_point(project):
    fixtures = project.runpytest("--fixtures")
    fixtures.stdout.fnmatch_lines(["*fixtures defined from proxy.pytest_plugin*", "capsule_v2_seed [[]session scope[]] -- *",
                                   "capsule_v2 -- *", "capsule_v2_session [[]session scope[]] -- *"])
    project.runpytest("--markers").stdout.fnmatch_lines(["@pytest.mark.capsule_v2(seed=...):*"])


def test_a_fresh_emulator_per_test_with_requests_and_no_asyncio_plugin(project):
    project.makepyfile(test_function_scope=projects.FUNCTION_SCOPE)
    # pytest-asyncio and pytest-aiohttp off: synchronous tests need neither.
    result = project.runpytest("-p", "no:asyncio", "-p", "no:aiohttp")
    result.assert_outcomes(passed=3)
    assert not emulator_threads(), "every emulator stopped and joined its threads"


def test_the_session_emulator_is_shared_and_apart_from_the_function_ones(project):
    project.makepyfile(test_session_scope=projects.SESSION_SCOPE)
    project.runpytest().assert_outcomes(passed=3)
    assert not emulator_threads()


def test_seeds_from_the_ini_option_a_marker_dict_toml_text_or_file(project):
    project.makefile(".ini", pytest=projects.INI + "capsule_v2_seed = seeds/small.toml\n")
    (project.path / "seeds").mkdir()
    (project.path / "seeds" / "small.toml").write_text(projects.SMALL_SEED)
    (project.path / "seeds" / "other.toml").write_text(projects.OTHER_SEED)
    project.makepyfile(test_seeds=projects.SEEDS)
    # The ini file's directory, not the current one, anchors a relative seed path.
    (project.path / "sub").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project.path / "sub")
        result = project.runpytest(str(project.path))
    result.assert_outcomes(passed=9)


def test_a_project_overrides_the_capsule_v2_seed_fixture(project):
    project.makeconftest(projects.OVERRIDE_CONFTEST)
    project.makepyfile(test_override=projects.OVERRIDE)
    project.runpytest().assert_outcomes(passed=1)


def test_a_bad_seed_or_marker_is_an_error_that_names_it(project):
    project.makepyfile(test_bad=projects.BAD_SEEDS)
    result = project.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*SeedError: seed @pytest.mark.capsule_v2 on test_bad.py::test_no_users: "
                                 "users: at least one user is needed*",
                                 "*test_bad.py::test_misspelt_marker: write @pytest.mark.capsule_v2(seed=...)*"])
    assert not emulator_threads()


def test_a_project_that_does_not_ask_gets_nothing_started(project):
    """Loaded from the entry point, the plugin imports no aiohttp and no emulator, starts no thread
    and opens no socket until a test requests capsule_v2; the second test shows the probes work."""
    project.makepyfile(test_idle=projects.IDLE_THEN_USED)
    result = project.runpytest_subprocess("-p", "no:aiohttp", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_p_no_capsule_proxy_removes_the_plugin(project):
    project.makepyfile(test_function_scope=projects.FUNCTION_SCOPE)
    result = project.runpytest("-p", "no:capsule_proxy")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*fixture 'capsule_v2' not found*"])
    assert "capsule_v2" not in project.runpytest("-p", "no:capsule_proxy", "--fixtures").stdout.str()
    # Its marker is gone too, so a project that uses it with --strict-markers fails to collect (in a
    # subprocess: pytest.mark remembers the markers it has seen across in-process runs).
    project.makepyfile(test_marked="import pytest\n@pytest.mark.capsule_v2(seed=None)\ndef test(): pass\n")
    marked = project.runpytest_subprocess("-p", "no:capsule_proxy", "test_marked.py")
    marked.stdout.fnmatch_lines(["*'capsule_v2' not found in `markers` configuration option*"])


def test_the_readme_example_passes(project):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### The emulator as a pytest fixture"):]
    example = section[section.index("```python\n") + len("```python\n"):section.index("\n```\n")]
    assert len(example.splitlines()) <= 10
    project.makepyfile(test_readme=example)
    project.runpytest().assert_outcomes(passed=1)


def test_a_project_makes_every_capsule_v2_the_session_one_with_pyproject_settings(pytester):
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\naddopts = "--strict-markers"\n'
                               'capsule_v2_seed = "seeds/small.toml"\n'
                               'filterwarnings = ["error", \'ignore:The configuration option '
                               '"asyncio_default_fixture_loop_scope" is unset\']\n')
    (pytester.path / "seeds").mkdir()
    (pytester.path / "seeds" / "small.toml").write_text(projects.SMALL_SEED)
    pytester.makeconftest(projects.SHARED_CONFTEST)
    pytester.makepyfile(test_shared=projects.SHARED)
    pytester.runpytest().assert_outcomes(passed=2)


# The pieces, directly.

def test_a_string_with_an_equals_sign_or_a_line_break_is_toml_else_a_path(tmp_path):
    (tmp_path / "s.toml").write_text(projects.OTHER_SEED)
    assert resolve_seed("s.toml", tmp_path, "x").users[0]["username"] == "dora"
    assert resolve_seed(tmp_path / "s.toml", Path("/elsewhere"), "x").users[0]["username"] == "dora"
    inline = 'users = [{username = "gil", token = "tok-gil"}]'
    assert resolve_seed(inline, tmp_path, "inline").users[0]["username"] == "gil"
    assert resolve_seed(None, tmp_path, "x").source.endswith("demo_seed.toml)")
    seed = resolve_seed({"users": [{"username": "hal", "token": "t"}]}, tmp_path, "x")
    assert resolve_seed(seed, tmp_path, "x") is seed
    with pytest.raises(TypeError, match="a seed is a dict"):
        resolve_seed(3, tmp_path, "x")


def test_the_fixture_object():
    seed = resolve_seed({"users": [{"username": "ivy", "token": "tok-ivy"}, {"username": "jo", "token": "tok-jo"}]},
                        Path("."), "x")
    emulator = CapsuleV2("http://127.0.0.1:4321", seed)
    assert (emulator.host, emulator.port, emulator.base_url) == ("127.0.0.1", 4321, "http://127.0.0.1:4321/api/v2")
    assert emulator.url() == emulator.base_url and emulator.url("/parties/1") == emulator.base_url + "/parties/1"
    assert (emulator.username, emulator.token) == ("ivy", "tok-ivy")
    assert emulator.headers("jo") == {"Authorization": "Bearer tok-jo"}
