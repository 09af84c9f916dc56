"""What the tests under tests/deploy share: the files under deploy/, read with real parsers, and
the settings each deploy target really runs with.

Nothing here parses a format by hand. YAML goes through PyYAML, the Dockerfile through BuildKit's
own parser (the `dockerfile` package), the systemd unit through configparser (its syntax is
checked separately by `systemd-analyze verify`), and the settings through
`proxy.config.load_settings`, the proxy's own loader. The CLI's subcommands and flags come from
`capsule-proxy --help`.
"""

from __future__ import annotations

import configparser
import contextlib
import functools
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import dockerfile
import pytest
import yaml
from aiohttp import web

from proxy import cli, ops
from proxy.config import ENV_CONFIG_FILE, ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
COMPOSE = DEPLOY / "docker-compose.yml"
UNIT = DEPLOY / "systemd" / "capsule-proxy.service"
UNIT_CONFIG = DEPLOY / "systemd" / "config.toml"
UNIT_ENV = DEPLOY / "systemd" / "env.example"
HEALTHCHECK = DEPLOY / "image" / "healthcheck.py"
YAMLLINT_CONFIG = ROOT / ".yamllint.yaml"

PROXY_IMAGE = "capsule-proxy"  # the image name every manifest uses, before registry and tag
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def report(problems: list[str], what: str = "deploy/ has drifted from the code") -> None:
    assert not problems, what + ":\n  " + "\n  ".join(problems)


def deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def load_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def seconds(value: Any) -> float:
    """A duration as Docker, Compose (Go's time.ParseDuration) and systemd write it: 20, "20s",
    "1m30s", "500ms", "2min"."""
    if isinstance(value, (int, float)):
        return float(value)
    parts = re.fullmatch(r"(?:\s*\d+(?:\.\d+)?\s*(?:us|ms|s|sec|m|min|h)?)+\s*", str(value))
    assert parts, f"not a duration: {value!r}"
    scale = {"us": 1e-6, "ms": 1e-3, "m": 60, "min": 60, "h": 3600}
    return sum(float(n) * scale.get(unit, 1)
               for n, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(us|ms|sec|min|s|m|h)?", str(value)))


# --------------------------------------------------------------------------------------------
# External tools: the validators pip installs into the venv, and the machine's own.

def find_tool(name: str) -> str | None:
    """The venv's bin directory first (where pip puts hadolint, yamllint ...), then PATH."""
    return shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def require_tool(name: str, purpose: str, *, required_in_ci: bool = False) -> str:
    """The tool's path, or skip naming the tool. In CI a required tool's absence fails instead."""
    found = find_tool(name)
    if found is None:
        message = f"{name} is not installed on this machine: {purpose} is not checked"
        if required_in_ci and IN_CI:
            pytest.fail(message + " (CI=true: CI machines have it, so its absence is an error)")
        pytest.skip(message)
    return found


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), **kwargs)


# --------------------------------------------------------------------------------------------
# The Dockerfile, through BuildKit's parser.

@dataclass
class Stage:
    base: str
    name: str | None
    line: int
    commands: list[dockerfile.Command] = field(default_factory=list)


@dataclass
class Image:
    """What the last stage of deploy/Dockerfile puts in the image."""
    stages: list[Stage]
    build_args: dict[str, str]
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # path in the image -> repository file
    user: str = ""
    healthcheck: list[str] = field(default_factory=list)
    healthcheck_options: dict[str, str] = field(default_factory=dict)
    expose: list[int] = field(default_factory=list)

    @property
    def argv(self) -> list[str]:
        return self.entrypoint + self.cmd


def _exec_form(command: dockerfile.Command) -> list[str]:
    return list(command.value) if command.json else ["/bin/sh", "-c", " ".join(command.value)]


def build_image(path: Path = DOCKERFILE) -> Image:
    build_args: dict[str, str] = {}
    stages: list[Stage] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "FROM":
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: build_args.get(m[1], m[0]), command.value[0])
            name = command.value[2] if len(command.value) == 3 and command.value[1].upper() == "AS" else None
            stages.append(Stage(base, name, command.start_line))
        elif stages:
            stages[-1].commands.append(command)
        elif command.cmd == "ARG":
            key, _, default = command.value[0].partition("=")
            build_args[key] = default
    image = Image(stages, build_args)
    for command in stages[-1].commands:
        if command.cmd == "ENV":
            image.env.update(zip(command.value[::2], command.value[1::2]))
        elif command.cmd == "COPY" and not any(f.startswith("--from") for f in command.flags):
            *sources, dest = command.value
            for source in sources:
                target = PurePosixPath(dest) / PurePosixPath(source).name if dest.endswith("/") else dest
                image.files[str(target)] = ROOT / source
        elif command.cmd == "USER":
            image.user = command.value[0]
        elif command.cmd == "ENTRYPOINT":
            image.entrypoint = _exec_form(command)
        elif command.cmd == "CMD":
            image.cmd = _exec_form(command)
        elif command.cmd == "EXPOSE":
            image.expose += [int(port.split("/")[0]) for port in command.value]
        elif command.cmd == "HEALTHCHECK" and command.value[0] == "CMD":
            image.healthcheck = list(command.value[1:])
            image.healthcheck_options = dict(f.lstrip("-").split("=", 1) for f in command.flags)
    return image


def is_proxy_image(image: str) -> bool:
    return image.rsplit("/", 1)[-1].split("@")[0].split(":")[0] == PROXY_IMAGE


# --------------------------------------------------------------------------------------------
# The CLI, as `capsule-proxy --help` describes it, and the settings a command line really gets.

def _cli() -> list[str]:
    """`capsule-proxy`, as the checkout's code (the console script runs `proxy.cli:main` too)."""
    return [sys.executable, "-m", "proxy"]


@functools.cache
def cli_help() -> dict[str, frozenset[str]]:
    """{subcommand: its --flags}, read from `capsule-proxy --help` and `capsule-proxy SUB --help`."""
    top = run(_cli() + ["--help"], cwd=ROOT).stdout
    listing = top.split("positional arguments:", 1)[1].split("options:", 1)[0]
    subcommands = re.findall(r"^ {4}([a-z][\w-]*)", listing, re.M)
    assert {"serve", "emulator", "check-config"} <= set(subcommands), f"unexpected --help:\n{top}"
    return {sub: frozenset(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", run(_cli() + [sub, "--help"], cwd=ROOT).stdout))
            for sub in subcommands}


def check_invocation(tail: list[str], where: str) -> list[str]:
    """Problems with `capsule-proxy TAIL...`: no subcommand, an unknown subcommand or flag."""
    commands = cli_help()
    if not tail or tail[0].startswith("-"):
        return [f"{where}: `capsule-proxy {' '.join(tail)}` names no subcommand"]
    sub = tail[0]
    if sub not in commands:
        return [f"{where}: `capsule-proxy {sub}`: no such subcommand (capsule-proxy --help lists "
                f"{', '.join(sorted(commands))})"]
    return [f"{where}: `capsule-proxy {sub}` has no flag {arg.split('=')[0]} "
            f"(capsule-proxy {sub} --help lists {', '.join(sorted(commands[sub]))})"
            for arg in tail[1:] if arg.startswith("--") and arg.split("=")[0] not in commands[sub]]


def effective_settings(argv: list[str], env: dict[str, str], files: dict[str, Path], where: str) -> Settings:
    """The settings `argv` runs with under `env`, reading the config file from the repository
    file the target puts at that path. Fails, naming `where`, as the proxy would refuse to start."""
    assert Path(argv[0]).name == "capsule-proxy", f"{where}: not a capsule-proxy command: {argv}"
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            args = cli._parser().parse_args(argv[1:])
        except SystemExit:
            pytest.fail(f"{where}: the CLI refuses {argv}")
    path = args.config or env.get(ENV_CONFIG_FILE)
    config_file = None
    if path:
        if path not in files:
            pytest.fail(f"{where}: the config file {path} is not there (there: {sorted(files)})")
        config_file = files[path]
    environ = {k: v for k, v in env.items() if k != ENV_CONFIG_FILE}
    try:
        return load_settings(config_file, environ=environ, flags=cli._flags(args))
    except ConfigError as exc:
        pytest.fail(f"{where}: the proxy would refuse to start: {exc}")


def probe_port(settings: Settings, command: str) -> int:
    if command == "emulator":
        return settings.get("emulator", "port")
    return settings.get("ops", "port") or settings.get("server", "port")


@functools.cache
def probe_paths() -> frozenset[str]:
    """The paths the probe and metrics listener really serves, read off its router."""
    app = web.Application()
    ops.add_routes(app)
    return frozenset(route.resource.canonical for route in app.router.routes())


# --------------------------------------------------------------------------------------------
# The image's health-check script, deploy/image/healthcheck.py, loaded as the image runs it.

def load_healthcheck_module():
    spec = importlib.util.spec_from_file_location("deploy_healthcheck", HEALTHCHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def healthcheck_args(argv: list[str], where: str) -> tuple[str, str]:
    """(command, path) of a `python .../healthcheck.py [serve|emulator] [PATH]` invocation."""
    module = load_healthcheck_module()
    [index] = [i for i, a in enumerate(argv) if a.endswith("healthcheck.py")]
    rest = argv[index + 1:]
    command = rest.pop(0) if rest and rest[0] in module.COMMANDS else "serve"
    path = rest.pop(0) if rest else "/healthz"
    assert not rest and path in probe_paths(), (
        f"{where}: healthcheck.py {' '.join(argv[index + 1:])}: expected [serve|emulator] and one of "
        f"{sorted(probe_paths())}")
    return command, path


def check_healthcheck(argv: list[str], env: dict[str, str], files: dict[str, Path], process: Settings,
                      command: str, where: str) -> list[str]:
    """The health check asks the port the process really listens on (it sees env, not flags)."""
    problems = []
    checked, _ = healthcheck_args(argv, where)
    if checked != command:
        problems.append(f"{where}: the health check probes `{checked}` but the process runs `{command}`")
    script = next(a for a in argv if a.endswith("healthcheck.py"))
    if script not in files:
        problems.append(f"{where}: {script} is not in the image")
    environ = {k: v for k, v in env.items() if k != ENV_CONFIG_FILE}
    if env.get(ENV_CONFIG_FILE):
        environ[ENV_CONFIG_FILE] = str(files[env[ENV_CONFIG_FILE]])
    host, port = load_healthcheck_module().target(checked, environ)
    if port != probe_port(process, command):
        problems.append(f"{where}: the health check asks port {port}, the process answers probes on "
                        f"{probe_port(process, command)} (flags are invisible to the health check)")
    listen = process.get("emulator", "host") if command == "emulator" else (
        process.get("ops", "host") if process.get("ops", "port") else process.get("server", "host"))
    if listen not in ("0.0.0.0", "::", "") and host != listen:
        problems.append(f"{where}: the health check asks {host}, the process listens on {listen}")
    return problems


# --------------------------------------------------------------------------------------------
# The systemd unit and its environment file.

def unit_file(path: Path = UNIT) -> configparser.ConfigParser:
    """The unit's sections. A key given twice keeps its last value (SystemCallFilter= adds up, but
    no check here reads it); `systemd-analyze verify` checks the syntax itself."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",),
                                       comment_prefixes=("#", ";"), empty_lines_in_values=False)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(), source=str(path))
    return parser


def env_file(path: Path = UNIT_ENV) -> dict[str, str]:
    """An EnvironmentFile=: KEY=VALUE lines, comments and blank lines ignored."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip().strip('"') for key, value in pairs}
