"""deploy/systemd: `systemd-analyze verify` and `systemd-analyze security` on the unit, installed
in a scratch root as deploy/README.md installs it, and its command and stop timeout against the
settings it really runs with."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path

import pytest

from proxy import cli
from tests.deploy.helpers import (
    DEPLOY, UNIT, UNIT_CONFIG, env_file, check_invocation, effective_settings, rel, report, require_tool, run,
    seconds, unit_file,
)

INSTALLED_AS = "/etc/systemd/system/capsule-proxy.service"  # deploy/README.md's install command
CONFIG_AT = "/etc/capsule-proxy/config.toml"
ENV_AT = "/etc/capsule-proxy/env"
EXECUTABLE = "/opt/capsule-proxy/venv/bin/capsule-proxy"
MAX_EXPOSURE = 2.0  # `systemd-analyze security`: 0 (locked down) to 10 (unprotected); README says about 1.2
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


def systemd_analyze() -> str:
    return require_tool("systemd-analyze", "the systemd unit", required_in_ci=True)


def install(unit_text: str, root: Path) -> Path:
    """A root for `systemd-analyze --root`: this machine's system units (the targets the unit names),
    the unit where the README installs it, and stand-ins for the programs it starts, since the proxy
    is not installed on a test machine. Then verify judges the unit, not the machine."""
    if SYSTEM_UNITS.is_dir():
        shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    for link, target in (("bin", "usr/bin"), ("sbin", "usr/bin"), ("lib", "usr/lib")):
        (root / link).symlink_to(target)
    for value in re.findall(r"^Exec\w+=[-@:+!]*(/\S+)", unit_text, re.M):
        program = root / value.lstrip("/")
        program.parent.mkdir(parents=True, exist_ok=True)
        if not program.exists():
            program.write_text("#!/bin/sh\n")
            program.chmod(0o755)
    target = root / INSTALLED_AS.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(unit_text)
    return root


def verify(unit_text: str, root: Path):
    install(unit_text, root)
    return run([systemd_analyze(), "verify", f"--root={root}", "--man=no", "--recursive-errors=no",
                Path(INSTALLED_AS).name])


def exposure(unit_text: str, root: Path) -> tuple[float, str]:
    install(unit_text, root)
    result = run([systemd_analyze(), "security", "--offline=yes", f"--root={root}", "--no-pager",
                  f"--threshold={int(MAX_EXPOSURE * 10)}", Path(INSTALLED_AS).name])
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert match, f"systemd-analyze security printed no exposure:\n{result.stdout}{result.stderr}"
    return float(match[1]), result.stdout + result.stderr


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    result = verify(UNIT.read_text(), tmp_path)
    # verify exits 0 after "Unknown key ..., ignoring" warnings: anything it prints is a finding.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        f"systemd-analyze verify {rel(UNIT)}:\n{result.stdout}{result.stderr}")


BREAKAGES = {
    "unknown directive and bad value": (
        ("Restart=on-failure", "Restart=sometimes\nRestartOnFailure=yes"),
        ["Unknown key 'RestartOnFailure'", "Failed to parse service restart specifier, ignoring: sometimes"]),
    "relative ExecStart": (
        (f"ExecStart={EXECUTABLE}", "ExecStart=venv/bin/capsule-proxy"),
        ["Neither a valid executable name nor an absolute path: venv/bin/capsule-proxy", "bad unit file setting"]),
    "unknown section": (
        ("[Install]", "[Instal]"), ["Unknown section 'Instal'"]),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_systemd_analyze_verify_reports_a_broken_unit(breakage, tmp_path):
    """The check is live: each broken copy of the unit draws the message that names its fault."""
    (old, new), expected = BREAKAGES[breakage]
    assert old in UNIT.read_text(), old
    result = verify(UNIT.read_text().replace(old, new, 1), tmp_path)
    output = result.stdout + result.stderr
    for message in expected:
        assert message in output, output


def test_the_unit_is_hardened(tmp_path):
    level, output = exposure(UNIT.read_text(), tmp_path / "good")
    assert level <= MAX_EXPOSURE, f"systemd-analyze security: exposure {level} > {MAX_EXPOSURE}:\n{output}"
    # The check is live: without the hardening block the same unit is exposed.
    bare = re.sub(r"^# --- hardening.*?(?=^\[Install\])", "", UNIT.read_text(), flags=re.M | re.S)
    assert "ProtectSystem" not in bare
    level, output = exposure(bare, tmp_path / "bare")
    assert level > MAX_EXPOSURE, f"without its hardening the unit still scores {level}:\n{output}"


def systemd_settings():
    unit = unit_file()
    argv = shlex.split(unit["Service"]["ExecStart"].lstrip("-@:+!"))
    settings = effective_settings(argv, env_file(), {CONFIG_AT: UNIT_CONFIG}, f"{rel(UNIT)}: ExecStart")
    return settings, argv, unit


def test_the_unit_runs_a_real_command_reads_the_shipped_files_and_outlasts_the_drain():
    settings, argv, unit = systemd_settings()
    service, problems = unit["Service"], []
    problems += check_invocation(argv[1:], f"{rel(UNIT)}: ExecStart")
    if argv[0] != EXECUTABLE:
        problems.append(f"{rel(UNIT)}: ExecStart runs {argv[0]}, deploy/README.md installs {EXECUTABLE}")
    if service.get("EnvironmentFile", "").lstrip("-") != ENV_AT:
        problems.append(f"{rel(UNIT)}: EnvironmentFile={service.get('EnvironmentFile')}, deploy/README.md "
                        f"installs {rel(DEPLOY / 'systemd' / 'env.example')} as {ENV_AT}")
    readme = (DEPLOY / "README.md").read_text()
    for source, installed in ((UNIT_CONFIG, CONFIG_AT), (DEPLOY / "systemd" / "env.example", ENV_AT),
                              (UNIT, str(Path(INSTALLED_AS).parent) + "/")):
        if not re.search(rf"install .*{re.escape(rel(source))} {re.escape(installed)}", readme):
            problems.append(f"deploy/README.md: no `install ... {rel(source)} {installed}`")
    stop, drain = seconds(service.get("TimeoutStopSec", "90s")), settings.get("server", "shutdown_timeout")
    if stop <= drain:
        problems.append(f"{rel(UNIT)}: TimeoutStopSec={service.get('TimeoutStopSec')} must exceed "
                        f"[server] shutdown_timeout {drain}s")
    if settings.get("emulator", "db") and "StateDirectory" not in service:
        problems.append(f"{rel(UNIT)}: [emulator] db is set, but ProtectSystem=strict leaves nowhere to write")
    report(problems)


def test_the_unit_does_not_restart_on_a_configuration_error(tmp_path):
    """RestartPreventExitStatus=2 relies on the CLI exiting 2 for a bad configuration."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = 70000\n")
    with contextlib.redirect_stderr(io.StringIO()):
        status = cli.main(["serve", "--config", str(bad)])
    assert status == 2
    assert "2" in unit_file()["Service"]["RestartPreventExitStatus"].split()
