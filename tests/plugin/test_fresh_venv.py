"""Done when: `pip install capsule-proxy[test]` in a fresh virtualenv gives a project the capsule_v2
fixture. The wheel is built from this tree, installed with its test extras into a new venv (the
dependencies from the package index, as a user's install gets them), and a pytester project runs
with that venv's pytest, not ours."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT
from tests.plugin import projects

pytest_plugins = ["pytester"]

INSTALLED = '''
import sys
from importlib.metadata import entry_points
from pathlib import Path

import proxy


def test_the_plugin_comes_from_the_fresh_venvs_wheel(request):
    assert Path(proxy.__file__).is_relative_to(sys.prefix), proxy.__file__
    assert "site-packages" in proxy.__file__
    assert [e.value for e in entry_points(group="pytest11") if e.name == "capsule_proxy"] == ["proxy.pytest_plugin"]
    assert request.config.pluginmanager.has_plugin("capsule_proxy")
'''


def _run(*args: object, timeout: float) -> None:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.mark.slow
def test_pip_install_test_extras_in_a_fresh_venv_gives_the_capsule_v2_fixture(pytester, tmp_path_factory,
                                                                              monkeypatch):
    work = tmp_path_factory.mktemp("fresh-venv")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", work / "dist", ROOT, timeout=300)
    [wheel] = (work / "dist").glob("capsule_proxy-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "proxy/pytest_plugin.py" in names
    assert "[pytest11]\ncapsule_proxy = proxy.pytest_plugin" in entry
    # requests is the test extra's own, not only docker-py's dependency.
    assert re.search(r"^Requires-Dist: requests>=[\d.]+; extra == \"test\"$", metadata, re.M), metadata
    _run(sys.executable, "-m", "venv", work / "venv", timeout=120)
    python = work / "venv" / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"{wheel}[test]", timeout=600)

    monkeypatch.delenv("PYTHONPATH", raising=False)  # nothing of this tree on the fresh venv's path
    pytester.makefile(".ini", pytest=projects.INI)
    pytester.makepyfile(test_function_scope=projects.FUNCTION_SCOPE, test_session_scope=projects.SESSION_SCOPE,
                        test_installed=INSTALLED)
    result = pytester.run(python, "-m", "pytest", "-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=7)
