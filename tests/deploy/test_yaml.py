"""Every YAML file of the repository passes yamllint with the committed .yamllint.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.deploy.helpers import COMPOSE, DEPLOY, ROOT, YAMLLINT_CONFIG, rel, require_tool, run


def _yamllint_tool() -> str:
    return require_tool("yamllint", "YAML style and syntax", required_in_ci=True)   # a [test] extra


def yamllint(*args: str, cwd: Path = ROOT):
    tool = _yamllint_tool()
    return run([tool, "--strict", "--format", "parsable", "--config-file", str(YAMLLINT_CONFIG), *args], cwd=cwd)


def test_yamllint_covers_every_yaml_file_under_deploy():
    listed = run([_yamllint_tool(), "--config-file", str(YAMLLINT_CONFIG),
                  "--list-files", "."], cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    linted = {Path(line).resolve() for line in listed.stdout.split()}
    expected = {p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml")}
    assert expected and expected <= linted, f"yamllint skips {sorted(rel(p) for p in expected - linted)}"
    assert YAMLLINT_CONFIG in linted


def test_every_yaml_file_passes_yamllint():
    result = yamllint(".")
    assert result.returncode == 0, f"yamllint --strict found:\n{result.stdout}{result.stderr}"


def test_yamllint_reports_a_broken_file(tmp_path):
    """The check is live: a duplicated key, a `yes` and a 130-column line each fail."""
    broken = tmp_path / COMPOSE.name
    text = COMPOSE.read_text()
    for old, new in (("\n  read_only: true\n", "\n  read_only: true\n  read_only: yes\n"),
                     ("\nname: capsule-proxy-demo\n", "\nname: capsule-proxy-demo  # " + "x" * 120 + "\n")):
        assert old in text
        text = text.replace(old, new, 1)
    broken.write_text(text)
    shutil.copy(YAMLLINT_CONFIG, tmp_path)
    (tmp_path / ".gitignore").write_text("")  # the config reads it
    result = yamllint(broken.name, cwd=tmp_path)
    assert result.returncode != 0
    for rule in ("key-duplicates", "truthy", "line-length"):
        assert f"({rule})" in result.stdout, f"yamllint missed {rule}:\n{result.stdout}"
