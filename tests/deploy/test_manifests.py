"""deploy/ checked against the code, without Docker, Kubernetes or systemd.

The manifests cannot run here, so these tests parse them and compare them with what the proxy
really does:

- every YAML file parses; the Kubernetes objects, the Dockerfile, the Compose file and the
  systemd unit carry the fields a sidecar needs (probes, limits, non-root, read-only root ...);
- drift: every `capsule-proxy` subcommand and flag named anywhere under deploy/ exists in the CLI
  (`proxy.cli._parser()`), every CAPSULE_PROXY_* variable names a real setting
  (`proxy.config.SECTIONS`), and every port, probe path and health check agrees with the settings
  each target really loads: the config file it mounts or copies, plus its environment, plus its
  command-line flags, through `proxy.config.load_settings` itself.

Each failure names the file and line. In prose, write "the proxy" rather than "capsule-proxy ...":
`capsule-proxy` at the start of a line, after a shell operator, `sudo`, `ExecStart=` or a backtick
is read as a command.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import io
import json
import os
import re
import shlex
import socket
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
import yaml

from proxy import cli
from proxy.config import ENV_CONFIG_FILE, ENV_PREFIX, SECTIONS, ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
COMPOSE = DEPLOY / "docker-compose.yml"
UNIT = DEPLOY / "systemd" / "capsule-proxy.service"
HEALTHCHECK = DEPLOY / "image" / "healthcheck.py"

PROBE_PATHS = {"/healthz", "/readyz", "/metrics"}
RSS_PER_WORKER_MIB = 80  # measured: a worker stays under 80 MB RSS
PROXY_IMAGE = "capsule-proxy"  # the image name used by every manifest, before registry and tag


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def at(path: Path, line: int | None = None) -> str:
    return f"{rel(path)}:{line}" if line else rel(path)


def report(problems: list[str]) -> None:
    assert not problems, "deploy/ has drifted from the code:\n  " + "\n  ".join(problems)


def deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


# --------------------------------------------------------------------------------------------
# YAML with line numbers: every mapping remembers its line and the line of each of its keys.

class LineDict(dict):
    line: int = 0
    lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LineLoader(yaml.SafeLoader):
    pass


def _construct_map(loader: LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    data.lines = {}
    yield data
    data.update(loader.construct_mapping(node))  # resolves "<<" merge keys first
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            data.lines.setdefault(loader.construct_object(key_node), key_node.start_mark.line + 1)


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def load_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.load_all(path.read_text(), Loader=LineLoader) if doc is not None]


# --------------------------------------------------------------------------------------------
# The Dockerfile.

@dataclass
class Instruction:
    line: int
    keyword: str
    args: str


@dataclass
class Stage:
    line: int
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def parse_dockerfile(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages). Handles comments and backslash continuations."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    logical, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if logical and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not logical:
            start = number
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        keyword, _, rest = logical.partition(" ")
        instruction = Instruction(start, keyword.upper(), rest.strip())
        logical = ""
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], m[0]), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(start, base, name))
        elif not stages:
            if instruction.keyword == "ARG" and "=" in instruction.args:
                key, _, value = instruction.args.partition("=")
                args[key.strip()] = value.strip()
        else:
            stages[-1].instructions.append(instruction)
    return args, stages


def json_or_shell(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    return ["/bin/sh", "-c", text]


@dataclass
class Image:
    """What the runtime stage of deploy/Dockerfile puts in the image."""
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    files: dict[str, Path]  # absolute path in the image -> the repository file copied there
    user: str
    user_line: int
    healthcheck: list[str]
    healthcheck_options: dict[str, str]
    healthcheck_line: int
    expose: list[tuple[int, int]]  # (port, line)
    entry_line: int


def build_image() -> Image:
    _, stages = parse_dockerfile()
    runtime = stages[-1]
    image = Image([], [], {}, {}, "", 0, [], {}, 0, [], 0)
    for ins in runtime.instructions:
        if ins.keyword == "ENV":
            for word in shlex.split(ins.args):
                key, _, value = word.partition("=")
                image.env[key] = value
        elif ins.keyword == "COPY":
            words = shlex.split(ins.args)
            if any(w.startswith("--from") for w in words):
                continue
            sources, dest = [w for w in words[:-1] if not w.startswith("--")], words[-1]
            for source in sources:
                target = str(PurePosixPath(dest) / PurePosixPath(source).name) if dest.endswith("/") else dest
                image.files[target] = ROOT / source
        elif ins.keyword == "USER":
            image.user, image.user_line = ins.args, ins.line
        elif ins.keyword == "ENTRYPOINT":
            image.entrypoint, image.entry_line = json_or_shell(ins.args), ins.line
        elif ins.keyword == "CMD":
            image.cmd = json_or_shell(ins.args)
        elif ins.keyword == "EXPOSE":
            image.expose += [(int(p.split("/")[0]), ins.line) for p in ins.args.split()]
        elif ins.keyword == "HEALTHCHECK":
            options, _, command = ins.args.partition("CMD")
            image.healthcheck = json_or_shell(command)
            image.healthcheck_line = ins.line
            image.healthcheck_options = dict(o.lstrip("-").split("=", 1) for o in options.split())
    return image


def seconds(text: Any) -> float:
    """Docker/Compose/systemd durations: 20, "20s", "1m30s", "500ms"."""
    if isinstance(text, (int, float)):
        return float(text)
    total, found = 0.0, False
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(ms|us|s|sec|m|min|h)?", str(text)):
        found = True
        total += float(amount) * {"ms": 0.001, "us": 1e-6, "m": 60, "min": 60, "h": 3600}.get(unit, 1)
    assert found, f"not a duration: {text!r}"
    return total


# --------------------------------------------------------------------------------------------
# The CLI and the settings each target really runs with.

def cli_shape() -> tuple[set[str], dict[str, set[str]]]:
    """(top-level options, {subcommand: its option strings}) from the real argparse parser."""
    parser = cli._parser()
    top = {o for action in parser._actions for o in action.option_strings}
    [subparsers] = [a for a in parser._actions if a.choices and isinstance(a.choices, dict)]
    subs = {name: {o for action in sub._actions for o in action.option_strings}
            for name, sub in subparsers.choices.items()}
    return top, subs


def check_invocation(tail: list[str], where: str) -> list[str]:
    """Problems with `capsule-proxy <tail...>`: unknown subcommand or flag, or argparse refusal."""
    top, subs = cli_shape()
    if not tail:
        return [f"{where}: `capsule-proxy` without a subcommand"]
    first = tail[0]
    if first.startswith("-"):
        unknown = [t for t in tail if t.startswith("-") and t.split("=")[0] not in top]
        return [f"{where}: `capsule-proxy {' '.join(tail)}`: unknown option {u}" for u in unknown]
    if first not in subs:
        return [f"{where}: `capsule-proxy {first}`: no such subcommand (the CLI has: "
                f"{', '.join(sorted(subs))}). In prose, write 'the proxy'."]
    problems = [f"{where}: `capsule-proxy {first} {t}`: `{first}` has no flag {t.split('=')[0]} "
                f"(it has: {', '.join(sorted(o for o in subs[first] if o.startswith('--')))})"
                for t in tail[1:] if t.startswith("--") and t.split("=")[0] not in subs[first]]
    if not problems:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                cli._parser().parse_args(tail)
            except SystemExit as exc:
                if exc.code:
                    problems.append(f"{where}: `capsule-proxy {' '.join(tail)}` is refused: "
                                    f"{stderr.getvalue().strip().splitlines()[-1]}")
    return problems


def effective_settings(argv: list[str], env: dict[str, str], files: dict[str, Path], where: str) -> Settings:
    """The settings of `argv` run with `env`, the config file read from the repository file that
    the target puts at that path. Fails (with `where`) the way the proxy would refuse to start."""
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
            pytest.fail(f"{where}: the config file {path} is not provided there (provided: {sorted(files)})")
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
    if rest or path not in PROBE_PATHS:
        raise AssertionError(f"{where}: healthcheck.py {' '.join(argv[index + 1:])}: expected "
                             f"[serve|emulator] and one of {sorted(PROBE_PATHS)}")
    return command, path


def check_healthcheck(argv: list[str], env: dict[str, str], files: dict[str, Path],
                      process: Settings, command: str, where: str) -> list[str]:
    """The health check asks the port the process really listens on (it sees env, not flags)."""
    problems = []
    checked_command, _ = healthcheck_args(argv, where)
    if checked_command != command:
        problems.append(f"{where}: the health check probes `{checked_command}` but the process runs `{command}`")
    script = [a for a in argv if a.endswith("healthcheck.py")][0]
    if script not in files:
        problems.append(f"{where}: {script} is not in the image")
    host, port = load_healthcheck_module().target(checked_command, _without_config(env) | _config_env(env, files))
    if port != probe_port(process, command):
        problems.append(f"{where}: the health check asks port {port}, the process answers probes on "
                        f"{probe_port(process, command)} (flags are invisible to the health check)")
    listen = process.get("emulator", "host") if command == "emulator" else (
        process.get("ops", "host") if process.get("ops", "port") else process.get("server", "host"))
    if listen not in ("0.0.0.0", "::", "") and host != listen:
        problems.append(f"{where}: the health check asks {host}, the process listens on {listen}")
    return problems


def _without_config(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != ENV_CONFIG_FILE}


def _config_env(env: dict[str, str], files: dict[str, Path]) -> dict[str, str]:
    path = env.get(ENV_CONFIG_FILE)
    return {ENV_CONFIG_FILE: str(files[path])} if path else {}


# --------------------------------------------------------------------------------------------
# Text scanning: every file under deploy/, line by line (continuations joined).

def logical_lines(path: Path) -> Iterator[tuple[int, str]]:
    pending, start = "", 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not pending:
            start = number
        if line.rstrip().endswith("\\") and path.suffix != ".py":
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending = ""
    if pending:
        yield start, pending


COMMAND_POSITION = (r"(?:^\s*(?:\$\s+)?|[;&|(`]\s*|\bsudo\s+|\bexec\s+|\bExecStart=[-@:+!]*"
                    r"|(?:\b[A-Z_][A-Z0-9_]*=\S*\s+)+)")
INVOCATION = re.compile(COMMAND_POSITION + r"(?P<prog>(?:[\w.~/-]*/)?capsule-proxy)(?![\w.:/-])(?P<rest>.*)")
# `docker run [options] capsule-proxy:TAG [subcommand ...]`: what follows the image is the command.
IMAGE_RUN = re.compile(r"\bdocker\s+(?:container\s+)?run\b.*?(?<![\w.-])(?:[\w.-]+/)*capsule-proxy:[\w.+-]+(?P<rest>.*)")
SHELL_END = re.compile(r"`|\s#|\|\|?|;|&&|>|<|\)")
ENV_NAME = re.compile(r"\bCAPSULE_PROXY_[A-Z0-9]+(?:_[A-Z0-9]+)*(?P<wild>_?\*)?(?:=(?P<value>[^\s\"'`,)]*))?")
URL = re.compile(r"https?://(?P<host>127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1\]|emulator|proxy)"
                 r"(?::(?P<port>\d+))?(?P<path>/[^\s\"'`)<>,]*)?")
PROBE_LIKE = re.compile(r"(?<![\w.$-])/(?:health|healthz|ready|readyz|readiness|live|livez|liveness|"
                        r"status|ping|metric|metrics|stats)(?![\w.-])")
HEALTHCHECK_CALL = re.compile(r"\bpython3?\s+\S*healthcheck\.py(?P<args>(?:[ \t]+[\w/]+(?![^\s`]))*)")


def text_invocations() -> Iterator[tuple[str, list[str]]]:
    """(file:line, argv tail) for each `capsule-proxy ...` command written in a file under deploy/."""
    for path in deploy_files():
        for number, line in logical_lines(path):
            for match in [*INVOCATION.finditer(line), *IMAGE_RUN.finditer(line)]:
                rest = SHELL_END.split(match["rest"], 1)[0]
                try:
                    tail = shlex.split(rest)
                except ValueError:
                    tail = rest.split()
                if tail:
                    yield at(path, number), tail


# --------------------------------------------------------------------------------------------
# Kubernetes.

def kustomization() -> LineDict:
    [doc] = load_yaml(K8S / "kustomization.yaml")
    return doc


def k8s_objects() -> list[tuple[Path, LineDict]]:
    return [(K8S / name, doc) for name in kustomization()["resources"] for doc in load_yaml(K8S / name)]


def k8s_find(kind: str) -> list[tuple[Path, LineDict]]:
    return [(path, doc) for path, doc in k8s_objects() if doc["kind"] == kind]


def deployment() -> tuple[Path, LineDict]:
    [found] = k8s_find("Deployment")
    return found


def pod_spec() -> LineDict:
    return deployment()[1]["spec"]["template"]["spec"]


def all_containers(spec: dict) -> list[LineDict]:
    return list(spec.get("initContainers", [])) + list(spec.get("containers", []))


def is_proxy_image(image: str) -> bool:
    name = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    return name == PROXY_IMAGE


def proxy_container() -> LineDict:
    [container] = [c for c in all_containers(pod_spec()) if is_proxy_image(c["image"])]
    return container


def secret_values() -> dict[tuple[str, str], str]:
    values = {}
    for _, secret in k8s_find("Secret"):
        for key, value in (secret.get("stringData") or {}).items():
            values[(secret["metadata"]["name"], key)] = str(value)
        for key, value in (secret.get("data") or {}).items():
            values[(secret["metadata"]["name"], key)] = base64.b64decode(value).decode()
    return values


def container_env(container: dict) -> dict[str, str]:
    """The container's environment with secretKeyRef values taken from the Secret manifests."""
    secrets, env = secret_values(), {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets.get((ref["name"], ref["key"]), "")
    return env


def container_files(container: dict, image: Image) -> dict[str, Path]:
    """Image files, with the ConfigMap volume mounted over them."""
    files = {path: source for path, source in image.files.items()}
    generators = {g["name"]: g for g in kustomization().get("configMapGenerator", [])}
    volumes = {v["name"]: v for v in pod_spec().get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        if "configMap" not in volume:
            continue
        generator = generators.get(volume["configMap"]["name"])
        if generator is None:
            continue
        sources = {Path(f.split("=")[-1]).name: K8S / f.split("=")[-1] for f in generator.get("files", [])}
        root = mount["mountPath"]
        files = {p: s for p, s in files.items() if not p.startswith(root.rstrip("/") + "/")}  # hidden
        items = volume["configMap"].get("items") or [{"key": k, "path": k} for k in sources]
        for item in items:
            if item["key"] in sources:
                files[str(PurePosixPath(root) / item["path"])] = sources[item["key"]]
    return files


def container_argv(container: dict, image: Image) -> list[str]:
    if "command" in container:
        return list(container["command"]) + list(container.get("args", []))
    return image.entrypoint + list(container["args"] if "args" in container else image.cmd)


def k8s_proxy_settings() -> Settings:
    container, image = proxy_container(), build_image()
    path, _ = deployment()
    where = at(path, container.line)
    env = image.env | container_env(container)
    return effective_settings(container_argv(container, image), env, container_files(container, image), where)


def resolve_port(port: Any, container: dict) -> int | None:
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    return named.get(port)


def quantity_mib(text: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1000 / 1024 ** 2, "M": 1e6 / 1024 ** 2, "G": 1e9 / 1024 ** 2}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(text))
    assert match, f"not a memory quantity: {text!r}"
    return float(match[1]) * units.get(match[2], 1 / 1024 ** 2)


# --------------------------------------------------------------------------------------------
# Compose.

def compose() -> LineDict:
    [doc] = load_yaml(COMPOSE)
    return doc


def compose_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def compose_argv(service: dict, image: Image) -> list[str]:
    entrypoint = service.get("entrypoint", image.entrypoint)
    entrypoint = shlex.split(entrypoint) if isinstance(entrypoint, str) else list(entrypoint)
    command = service.get("command", image.cmd if "entrypoint" not in service else [])
    command = shlex.split(command) if isinstance(command, str) else list(command)
    return entrypoint + command


def compose_proxy_services() -> dict[str, LineDict]:
    return {name: s for name, s in compose()["services"].items() if is_proxy_image(s.get("image", ""))}


def compose_settings(name: str) -> tuple[Settings, list[str], dict[str, str]]:
    image, service = build_image(), compose()["services"][name]
    env = image.env | compose_env(service)
    argv = compose_argv(service, image)
    return effective_settings(argv, env, image.files, at(COMPOSE, service.line)), argv, env


# --------------------------------------------------------------------------------------------
# systemd.

def unit() -> list[tuple[str, str, str, int]]:
    """(section, key, value, line) for every assignment; keys may repeat."""
    entries, section, pending, start = [], "", "", 0
    for number, raw in enumerate(UNIT.read_text().splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip(), start))
    return entries


def unit_values(key: str) -> list[tuple[str, int]]:
    return [(value, line) for _, k, value, line in unit() if k == key]


def unit_value(key: str) -> tuple[str, int]:
    values = unit_values(key)
    assert values, f"{rel(UNIT)}: no {key}="
    return values[-1]


def env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip().strip('"')
    return env


def systemd_settings() -> tuple[Settings, list[str]]:
    value, line = unit_value("ExecStart")
    argv = shlex.split(value.lstrip("-@:+!"))
    files = {"/etc/capsule-proxy/config.toml": DEPLOY / "systemd" / "config.toml"}
    env = env_file(DEPLOY / "systemd" / "env.example")
    return effective_settings(argv, env, files, at(UNIT, line)), argv


# ============================================================================================
# Tests: everything parses.

def test_every_yaml_file_parses():
    problems = []
    for path in deploy_files():
        if path.suffix in (".yaml", ".yml"):
            try:
                docs = list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError as exc:
                problems.append(f"{rel(path)}: not valid YAML: {exc}")
                continue
            if not [d for d in docs if d is not None]:
                problems.append(f"{rel(path)}: no documents")
    report(problems)


def test_every_toml_file_parses_and_is_a_valid_proxy_config(tmp_path):
    problems = []
    for path in deploy_files():
        if path.suffix == ".toml":
            target = tmp_path / path.name
            target.write_bytes(path.read_bytes())
            try:
                load_settings(target, environ={})
            except ConfigError as exc:
                problems.append(f"{rel(path)}: {exc}")
    report(problems)


# Tests: Kubernetes.

def test_the_kustomization_lists_files_that_exist_and_every_manifest_is_listed():
    doc, problems = kustomization(), []
    listed = list(doc.get("resources", []))
    listed += [f.split("=")[-1] for g in doc.get("configMapGenerator", []) for f in g.get("files", [])]
    listed += [f.split("=")[-1] for g in doc.get("secretGenerator", []) for f in g.get("files", [])]
    for name in listed:
        if not (K8S / name).is_file():
            problems.append(f"{at(K8S / 'kustomization.yaml', doc.line_of('resources'))}: {name} does not exist")
    for path in K8S.iterdir():
        if path.name != "kustomization.yaml" and path.name not in listed:
            problems.append(f"{rel(path)}: not listed in kustomization.yaml, so `kubectl apply -k` skips it")
    report(problems)


def test_the_kustomization_image_and_every_image_tag_match_the_project_version():
    version, problems = project_version(), []
    doc = kustomization()
    images = {i["name"]: i for i in doc.get("images", [])}
    entry = images.get(PROXY_IMAGE)
    assert entry, f"{rel(K8S / 'kustomization.yaml')}: no images entry for {PROXY_IMAGE}"
    if str(entry.get("newTag")) != version:
        problems.append(f"{at(K8S / 'kustomization.yaml', entry.line)}: newTag {entry.get('newTag')!r}, "
                        f"pyproject.toml says version {version}")
    for path in deploy_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in re.finditer(r"(?<![\w.-])capsule-proxy:(\d[\w.+-]*)", line):
                if match[1] != version:
                    problems.append(f"{at(path, number)}: image tag capsule-proxy:{match[1]}, project version {version}")
            for match in re.finditer(r"capsule_proxy-(\d[\w.+]*?)-py3", line):
                if match[1] != version:
                    problems.append(f"{at(path, number)}: wheel version {match[1]}, project version {version}")
    report(problems)


def test_the_proxy_runs_as_a_native_sidecar_or_a_container():
    spec, container = pod_spec(), proxy_container()
    path, _ = deployment()
    in_init = container in list(spec.get("initContainers", []))
    assert not in_init or container.get("restartPolicy") == "Always", (
        f"{at(path, container.line)}: the proxy is an init container without restartPolicy: Always, "
        "so it would have to exit before the app starts")


def test_the_proxy_container_has_probes_on_the_ops_port():
    container, (path, _) = proxy_container(), deployment()
    settings, problems = k8s_proxy_settings(), []
    ops_port = settings.get("ops", "port")
    assert ops_port, f"{rel(K8S / 'config.toml')}: [ops] port must be set so the probes have their own port"
    if settings.get("ops", "host") != "0.0.0.0":
        problems.append(f"{rel(K8S / 'config.toml')}: [ops] host is {settings.get('ops', 'host')!r}; "
                        "the kubelet and Prometheus need 0.0.0.0")
    expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for kind, want in expected.items():
        probe = container.get(kind)
        if not probe or "httpGet" not in probe:
            problems.append(f"{at(path, container.line)}: no HTTP {kind}")
            continue
        get = probe["httpGet"]
        where = at(path, get.line)
        if get.get("path") != want:
            problems.append(f"{where}: {kind} asks {get.get('path')}, expected {want}")
        port = resolve_port(get.get("port"), container)
        if port != ops_port:
            problems.append(f"{where}: {kind} port {get.get('port')!r} is {port}, the ops listener is on {ops_port}")
    readiness = container.get("readinessProbe", {})
    if readiness.get("timeoutSeconds", 1) <= 3:
        problems.append(f"{at(path, readiness.line)}: readinessProbe timeoutSeconds must exceed the 3 s "
                        "the proxy waits for Capsule in /readyz")
    report(problems)


def test_every_kubernetes_port_matches_the_config():
    settings, container, (path, _) = k8s_proxy_settings(), proxy_container(), deployment()
    ops, server = settings.get("ops", "port"), settings.get("server", "port")
    problems = []
    declared = {p.get("name"): p for p in container.get("ports", [])}
    if "metrics" not in declared:
        problems.append(f"{at(path, container.line)}: no container port named 'metrics'")
    for port in container.get("ports", []):
        if port["containerPort"] not in (ops, server):
            problems.append(f"{at(path, port.line)}: containerPort {port['containerPort']} is neither "
                            f"[ops] port {ops} nor [server] port {server}")
        if port.get("name") == "metrics" and port["containerPort"] != ops:
            problems.append(f"{at(path, port.line)}: the 'metrics' port is {port['containerPort']}, [ops] port is {ops}")
    for svc_path, service in k8s_find("Service"):
        for port in service["spec"]["ports"]:
            target = resolve_port(port.get("targetPort", port["port"]), container)
            if target != ops:
                problems.append(f"{at(svc_path, port.line)}: Service targetPort {port.get('targetPort')!r} is "
                                f"{target}, the ops listener is on {ops}")
            if port.get("name") != "metrics":
                problems.append(f"{at(svc_path, port.line)}: name the metrics port 'metrics'")
        notes = service["metadata"].get("annotations", {})
        where = at(svc_path, service["metadata"].line)
        if notes.get("prometheus.io/scrape") != "true":
            problems.append(f"{where}: prometheus.io/scrape must be \"true\"")
        if str(notes.get("prometheus.io/port")) != str(ops):
            problems.append(f"{where}: prometheus.io/port {notes.get('prometheus.io/port')!r}, [ops] port {ops}")
        if notes.get("prometheus.io/path", "/metrics") != "/metrics":
            problems.append(f"{where}: prometheus.io/path {notes.get('prometheus.io/path')!r}, expected /metrics")
    report(problems)


def test_the_legacy_app_reaches_the_proxy_on_loopback():
    settings, spec, (path, _) = k8s_proxy_settings(), pod_spec(), deployment()
    problems = []
    if settings.get("server", "host") != "127.0.0.1":
        problems.append(f"{rel(K8S / 'config.toml')}: [server] host {settings.get('server', 'host')!r}; a "
                        "sidecar's v1 API should listen on 127.0.0.1 only")
    apps = [c for c in all_containers(spec) if not is_proxy_image(c["image"])]
    assert apps, f"{rel(path)}: no application container beside the proxy"
    for app in apps:
        urls = [v for v in container_env(app).values() if v.startswith("http")]
        if not urls:
            problems.append(f"{at(path, app.line)}: the example app has no proxy URL in its environment")
        for url in urls:
            parts = urlsplit(url)
            if parts.hostname != "127.0.0.1" or parts.port != settings.get("server", "port"):
                problems.append(f"{at(path, app.line)}: {url} is not the proxy's "
                                f"127.0.0.1:{settings.get('server', 'port')}")
        token = container_env(app).get("CAPSULE_TOKEN")
        if settings.get("auth", "mode") == "static" and token not in settings.get("auth", "allowed_clients"):
            problems.append(f"{at(path, app.line)}: the app's token is not in the proxy's allowed clients")
    report(problems)


def test_the_proxy_container_is_locked_down():
    spec, container, (path, _) = pod_spec(), proxy_container(), deployment()
    image, problems = build_image(), []
    pod, own = spec.get("securityContext", {}), container.get("securityContext", {})

    def effective(key: str) -> Any:
        return own.get(key, pod.get(key))

    where = at(path, own.line if own else container.line)
    uid = int(image.user.split(":")[0])
    wants = {"runAsNonRoot": True, "runAsUser": uid, "readOnlyRootFilesystem": True,
             "allowPrivilegeEscalation": False}
    for key, want in wants.items():
        if effective(key) != want:
            problems.append(f"{where}: securityContext.{key} is {effective(key)!r}, expected {want!r}")
    if "ALL" not in (own.get("capabilities", {}).get("drop") or []):
        problems.append(f"{where}: securityContext.capabilities.drop must contain ALL")
    if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: seccompProfile.type must be RuntimeDefault")
    settings = k8s_proxy_settings()
    if settings.get("emulator", "db"):
        problems.append(f"{where}: [emulator] db is set, but the root filesystem is read-only")
    if spec.get("enableServiceLinks") is not False:
        problems.append(f"{at(path, spec.line)}: set enableServiceLinks: false, or a Service named "
                        "capsule-proxy-<section> injects CAPSULE_PROXY_<SECTION>_* variables the proxy rejects")
    report(problems)


def test_the_proxy_has_requests_and_limits_that_fit_its_workers():
    container, (path, _) = proxy_container(), deployment()
    resources, problems = container.get("resources", {}), []
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(kind, {}):
                problems.append(f"{at(path, container.line)}: no resources.{kind}.{resource}")
    workers = k8s_proxy_settings().get("server", "workers")
    limit = resources.get("limits", {}).get("memory")
    if limit and quantity_mib(limit) < workers * RSS_PER_WORKER_MIB * 1.2:
        problems.append(f"{at(path, resources['limits'].line)}: memory limit {limit} is tight for {workers} "
                        f"worker(s) of up to {RSS_PER_WORKER_MIB} MiB each")
    report(problems)


def test_the_grace_period_outlasts_the_drain():
    spec, (path, _) = pod_spec(), deployment()
    drain = k8s_proxy_settings().get("server", "shutdown_timeout")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    assert grace > drain, (f"{at(path, spec.line_of('terminationGracePeriodSeconds'))}: "
                           f"terminationGracePeriodSeconds {grace} must exceed [server] shutdown_timeout {drain}")


def test_selectors_match_the_pod_labels():
    (path, deploy), problems = deployment(), []
    labels = deploy["spec"]["template"]["metadata"]["labels"]

    def matches(selector: dict) -> bool:
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    if not matches(deploy["spec"]["selector"]["matchLabels"]):
        problems.append(f"{at(path, deploy['spec']['selector'].line)}: the Deployment's selector misses its pods")
    for pdb_path, pdb in k8s_find("PodDisruptionBudget"):
        if not matches(pdb["spec"]["selector"].get("matchLabels", {})):
            problems.append(f"{at(pdb_path, pdb['spec']['selector'].line)}: the PDB selects no pod of the Deployment")
        minimum = pdb["spec"].get("minAvailable")
        if isinstance(minimum, int) and minimum >= deploy["spec"].get("replicas", 1):
            problems.append(f"{at(pdb_path, pdb['spec'].line)}: minAvailable {minimum} >= replicas: "
                            "no node could ever be drained")
    for svc_path, service in k8s_find("Service"):
        if not matches(service["spec"].get("selector", {})):
            problems.append(f"{at(svc_path, service['spec'].line)}: the Service selects no pod of the Deployment")
    report(problems)


def test_the_config_map_is_mounted_where_the_proxy_reads_it(tmp_path):
    container, image, (path, _) = proxy_container(), build_image(), deployment()
    env = image.env | container_env(container)
    config_path = env.get(ENV_CONFIG_FILE)
    files = container_files(container, image)
    source = files.get(config_path)
    assert source is not None and source.parent == K8S, (
        f"{at(path, container.line)}: {config_path} in the container is not the ConfigMap's config.toml "
        f"(it is {source})")
    # The ConfigMap's config.toml, written out as the mount would: TOML the proxy accepts as is.
    mounted = tmp_path / "config.toml"
    mounted.write_bytes(source.read_bytes())
    tomllib.loads(mounted.read_text())
    settings = load_settings(mounted, environ={})
    assert settings.get("ops", "host") == "0.0.0.0" and settings.get("ops", "port"), (
        f"{rel(source)}: [ops] host must be 0.0.0.0 and [ops] port set, for the probes")


def test_every_secret_key_is_used_and_every_reference_exists():
    values, (path, _) = secret_values(), deployment()
    used, problems = set(), []
    for container in all_containers(pod_spec()):
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                used.add((ref["name"], ref["key"]))
                if (ref["name"], ref["key"]) not in values:
                    problems.append(f"{at(path, ref.line)}: Secret {ref['name']} has no key {ref['key']}")
    for secret_path, secret in k8s_find("Secret"):
        name = secret["metadata"]["name"]
        for key in list(secret.get("stringData") or {}) + list(secret.get("data") or {}):
            if (name, key) not in used:
                problems.append(f"{at(secret_path, secret.line)}: Secret {name} key {key} is used by no container")
    proxy_refs = {item["name"] for item in proxy_container().get("env", []) if "valueFrom" in item}
    for name in ("CAPSULE_PROXY_AUTH_STATIC_TOKEN", "CAPSULE_PROXY_AUTH_ALLOWED_CLIENTS"):
        if name not in proxy_refs:
            problems.append(f"{at(path, proxy_container().line)}: {name} does not come from a Secret")
    report(problems)


def test_the_kubernetes_proxy_settings_are_complete():
    settings = k8s_proxy_settings()
    assert settings.get("upstream", "url").startswith("https://"), "the sidecar should talk to real Capsule"
    assert settings.get("log", "format") == "json"


# Tests: the Dockerfile and its context.

def test_the_dockerfile_is_multi_stage_non_root_with_a_healthcheck():
    args, stages = parse_dockerfile()
    image, problems = build_image(), []
    if len(stages) < 2:
        problems.append(f"{rel(DOCKERFILE)}: expected a multi-stage build (2 or more FROM)")
    names = {s.name for s in stages}
    for stage in stages:
        for ins in stage.instructions:
            source = re.search(r"--from=(\S+)", ins.args) if ins.keyword == "COPY" else None
            if source and source[1] not in names:
                problems.append(f"{at(DOCKERFILE, ins.line)}: COPY --from={source[1]}: no such stage")
            if source and stages[[s.name for s in stages].index(source[1])].base != stage.base:
                problems.append(f"{at(DOCKERFILE, ins.line)}: copies a virtualenv between different bases")
    base = stages[-1].base
    match = re.fullmatch(r"python:(\d+)\.(\d+)-slim\S*", base)
    if not match:
        problems.append(f"{at(DOCKERFILE, stages[-1].line)}: runtime base {base!r} is not a python:X.Y-slim image")
    else:
        minimum = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
        need = tuple(int(n) for n in re.search(r"(\d+)\.(\d+)", minimum).groups())
        if (int(match[1]), int(match[2])) < need:
            problems.append(f"{at(DOCKERFILE, stages[-1].line)}: {base} is older than requires-python {minimum}")
    user = image.user.split(":")[0]
    if not user.isdigit() or int(user) == 0:
        problems.append(f"{at(DOCKERFILE, image.user_line)}: USER {image.user!r} must be a numeric non-root uid")
    if not image.healthcheck:
        problems.append(f"{rel(DOCKERFILE)}: no HEALTHCHECK")
    if image.env.get(ENV_CONFIG_FILE) not in image.files:
        problems.append(f"{rel(DOCKERFILE)}: {ENV_CONFIG_FILE}={image.env.get(ENV_CONFIG_FILE)} but no file is copied there")
    for path in image.files.values():
        if not path.exists():
            problems.append(f"{rel(DOCKERFILE)}: COPY source {rel(path)} does not exist")
    report(problems)


def test_the_image_command_healthcheck_and_ports_agree_with_its_config():
    image, problems = build_image(), []
    argv = image.entrypoint + image.cmd
    where = at(DOCKERFILE, image.entry_line)
    problems += check_invocation(argv[1:], where)
    report(problems)
    settings = effective_settings(argv, image.env, image.files, where)
    command = argv[1]
    problems += check_healthcheck(image.healthcheck, image.env, image.files, settings, command,
                                  at(DOCKERFILE, image.healthcheck_line))
    module = load_healthcheck_module()
    timeout = seconds(image.healthcheck_options.get("timeout", "30s"))
    if timeout <= module.TIMEOUT:
        problems.append(f"{at(DOCKERFILE, image.healthcheck_line)}: HEALTHCHECK --timeout {timeout}s must exceed "
                        f"the script's own {module.TIMEOUT}s")
    listening = {settings.get("server", "port"), settings.get("ops", "port")} - {0}
    exposed = {port for port, _ in image.expose}
    for port, line in image.expose:
        if port not in listening:
            problems.append(f"{at(DOCKERFILE, line)}: EXPOSE {port}, but the image listens on {sorted(listening)}")
    for port in listening - exposed:
        problems.append(f"{rel(DOCKERFILE)}: the image listens on {port} but does not EXPOSE it")
    if settings.get("emulator", "db"):
        problems.append(f"{rel(DOCKERFILE)}: [emulator] db is set: the read-only root filesystem breaks")
    report(problems)


def dockerignore_patterns() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = "".join(".*" if part == "**" else re.escape(part).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
                        for part in re.split(r"(\*\*)", pattern))
        regex = regex.replace(".*/", "(?:.*/)?")
        rules.append((include, re.compile(regex)))
    return rules


def ignored(path: str) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for include, regex in dockerignore_patterns():
        if any(regex.fullmatch(c) for c in candidates):
            result = not include
    return result


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_else():
    _, stages, = parse_dockerfile()
    problems = []
    for stage in stages:
        for ins in stage.instructions:
            if ins.keyword != "COPY" or "--from" in ins.args:
                continue
            for source in shlex.split(ins.args)[:-1]:
                path = ROOT / source
                files = [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts] \
                    if path.is_dir() else [path]
                for file in files:
                    if ignored(rel(file)):
                        problems.append(f"{at(DOCKERFILE, ins.line)}: {rel(file)} is left out of the build "
                                        f"context by {rel(DOCKERIGNORE)}")
    for unwanted in (".git/HEAD", ".venv/bin/python", "tests/conftest.py", "bench/results/run.json",
                     "bench/load.py", "build/lib/proxy/cli.py", "proxy/__pycache__/cli.cpython-311.pyc",
                     "capsule_proxy.egg-info/PKG-INFO", "deploy/kubernetes/secret.yaml"):
        if not ignored(unwanted):
            problems.append(f"{rel(DOCKERIGNORE)}: {unwanted} would be sent to the Docker daemon")
    report(problems)


# Tests: Compose.

def test_compose_services_chain_on_health_and_share_the_sidecar_network():
    services, problems = compose()["services"], []
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            if dependency not in services:
                problems.append(f"{at(COMPOSE, service.line)}: {name} depends on unknown service {dependency}")
            elif (condition or {}).get("condition") != "service_healthy":
                problems.append(f"{at(COMPOSE, service.line_of('depends_on'))}: {name} should wait for "
                                f"{dependency} with condition: service_healthy")
            elif "healthcheck" not in services[dependency]:
                problems.append(f"{at(COMPOSE, services[dependency].line)}: {dependency} has no healthcheck")
    proxies = compose_proxy_services()
    for name, service in services.items():
        mode = service.get("network_mode", "")
        if mode.startswith("service:") and mode.split(":", 1)[1] not in services:
            problems.append(f"{at(COMPOSE, service.line_of('network_mode'))}: {mode}: no such service")
    for name, service in proxies.items():
        if not service.get("read_only"):
            problems.append(f"{at(COMPOSE, service.line)}: {name}: set read_only: true (the image writes nothing)")
        if "ALL" not in (service.get("cap_drop") or []):
            problems.append(f"{at(COMPOSE, service.line)}: {name}: cap_drop: [ALL]")
    report(problems)


def test_compose_commands_ports_and_healthchecks_agree_with_the_config():
    services, image, problems = compose()["services"], build_image(), []
    proxies = compose_proxy_services()
    assert {"serve", "emulator"} <= {compose_argv(s, image)[1] for s in proxies.values()}, (
        f"{rel(COMPOSE)}: expected a proxy (serve) and an emulator service")
    emulator_ports = {}
    for name, service in proxies.items():
        argv = compose_argv(service, image)
        where = at(COMPOSE, service.line_of("command") if "command" in service else service.line)
        problems += check_invocation(argv[1:], where)
        settings, _, env = compose_settings(name)
        command = argv[1]
        if command == "emulator":
            emulator_ports[name] = settings.get("emulator", "port")
        health = service.get("healthcheck") or {}
        test = health.get("test") or ["CMD", *image.healthcheck]
        if test[0] == "CMD":
            problems += check_healthcheck(test[1:], env, image.files, settings, command,
                                          at(COMPOSE, health.line if health else service.line))
        if health and seconds(health.get("timeout", "30s")) <= load_healthcheck_module().TIMEOUT:
            problems.append(f"{at(COMPOSE, health.line)}: healthcheck timeout must exceed the script's own")
        grace = seconds(service.get("stop_grace_period", 10))
        if grace <= settings.get("server", "shutdown_timeout"):
            problems.append(f"{at(COMPOSE, service.line)}: {name}: stop_grace_period {grace}s must exceed "
                            f"[server] shutdown_timeout {settings.get('server', 'shutdown_timeout')}s")
        listening = ({settings.get("emulator", "port")} if command == "emulator" else
                     {settings.get("server", "port"), settings.get("ops", "port")} - {0})
        for port in service.get("ports", []):
            container_port = int(str(port).rsplit(":", 1)[-1].split("/")[0])
            if container_port not in listening:
                problems.append(f"{at(COMPOSE, service.line_of('ports'))}: {name} publishes {container_port}, "
                                f"it listens on {sorted(listening)}")
        if settings.get("emulator", "db"):
            problems.append(f"{at(COMPOSE, service.line)}: {name}: [emulator] db set on a read-only container")
    for name, service in proxies.items():
        if compose_argv(service, image)[1] != "serve":
            continue
        settings, _, _ = compose_settings(name)
        upstream = urlsplit(settings.get("upstream", "url"))
        if upstream.hostname not in emulator_ports or upstream.port != emulator_ports[upstream.hostname]:
            problems.append(f"{at(COMPOSE, service.line_of('environment'))}: upstream {settings.get('upstream', 'url')} "
                            f"is not an emulator service of this file ({emulator_ports})")
        sidecars = [(n, s) for n, s in services.items() if s.get("network_mode") == f"service:{name}"]
        for app_name, app in sidecars:
            for value in compose_env(app).values():
                if value.startswith("http"):
                    url = urlsplit(value)
                    if url.hostname != "127.0.0.1" or url.port != settings.get("server", "port"):
                        problems.append(f"{at(COMPOSE, app.line_of('environment'))}: {app_name} calls {value}, "
                                        f"the proxy listens on 127.0.0.1:{settings.get('server', 'port')}")
            token = compose_env(app).get("CAPSULE_TOKEN")
            if settings.get("auth", "mode") == "static" and token not in settings.get("auth", "allowed_clients"):
                problems.append(f"{at(COMPOSE, app.line_of('environment'))}: {app_name}'s token is not an allowed client")
        if not sidecars:
            problems.append(f"{at(COMPOSE, service.line)}: no legacy app shares {name}'s network namespace")
    report(problems)


# Tests: systemd.

def test_the_systemd_unit_runs_a_real_command_and_outlasts_the_drain():
    settings, argv = systemd_settings()
    value, line = unit_value("ExecStart")
    problems = check_invocation(argv[1:], at(UNIT, line))
    if argv[0] != "/opt/capsule-proxy/venv/bin/capsule-proxy":
        problems.append(f"{at(UNIT, line)}: ExecStart runs {argv[0]}, deploy/README.md installs "
                        "/opt/capsule-proxy/venv/bin/capsule-proxy")
    stop, stop_line = unit_value("TimeoutStopSec")
    if seconds(stop) <= settings.get("server", "shutdown_timeout"):
        problems.append(f"{at(UNIT, stop_line)}: TimeoutStopSec={stop} must exceed [server] shutdown_timeout "
                        f"{settings.get('server', 'shutdown_timeout')}s")
    wants = {"Restart": "on-failure", "KillSignal": "SIGTERM", "EnvironmentFile": "-/etc/capsule-proxy/env",
             "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
             "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "MemoryDenyWriteExecute": "yes"}
    for key, want in wants.items():
        got = [v for v, _ in unit_values(key)]
        if want not in got:
            problems.append(f"{rel(UNIT)}: expected {key}={want}, found {got or 'nothing'}")
    if "@system-service" not in [v for v, _ in unit_values("SystemCallFilter")]:
        problems.append(f"{rel(UNIT)}: expected SystemCallFilter=@system-service")
    if not ({"yes", "true"} & {v for v, _ in unit_values("DynamicUser")} or unit_values("User")):
        problems.append(f"{rel(UNIT)}: run as DynamicUser=yes or a dedicated User=")
    if settings.get("emulator", "db") and not unit_values("StateDirectory"):
        problems.append(f"{rel(UNIT)}: [emulator] db is set but ProtectSystem=strict leaves nowhere to write")
    report(problems)


def test_the_unit_does_not_restart_on_a_configuration_error(tmp_path):
    """RestartPreventExitStatus=2 relies on the CLI exiting 2 for a bad configuration."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = 70000\n")
    with contextlib.redirect_stderr(io.StringIO()):
        status = cli.main(["serve", "--config", str(bad)])
    assert status == 2
    assert "2" in unit_value("RestartPreventExitStatus")[0].split()


# Tests: drift across every file under deploy/.

def test_every_capsule_proxy_command_named_under_deploy_exists():
    problems, seen = [], []
    for where, tail in text_invocations():
        seen.append((where, tail))
        problems += check_invocation(tail, where)
    # structured commands: the image, Compose, Kubernetes, systemd
    image = build_image()
    structured = [(at(DOCKERFILE, image.entry_line), image.entrypoint + image.cmd)]
    for service in compose_proxy_services().values():
        structured.append((at(COMPOSE, service.line), compose_argv(service, image)))
    container = proxy_container()
    structured.append((at(deployment()[0], container.line), container_argv(container, image)))
    value, line = unit_value("ExecStart")
    structured.append((at(UNIT, line), shlex.split(value.lstrip("-@:+!"))))
    for where, argv in structured:
        if Path(argv[0]).name != "capsule-proxy":
            problems.append(f"{where}: runs {argv[0]}, not capsule-proxy")
        problems += check_invocation(argv[1:], where)
        seen.append((where, argv[1:]))
    report(problems)
    subcommands = {tail[0] for _, tail in seen if tail}
    assert {"serve", "emulator"} <= subcommands, f"the collector found too little: {seen}"
    assert any("--config" in tail for _, tail in seen), f"the collector found no --config: {seen}"


def test_every_environment_variable_named_under_deploy_is_a_real_setting():
    problems, found = [], 0
    for path in deploy_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in ENV_NAME.finditer(line):
                found += 1
                name = match[0].split("=")[0].rstrip("*").rstrip("_")
                if name == ENV_CONFIG_FILE:
                    continue
                section, _, key = name[len(ENV_PREFIX):].lower().partition("_")
                if section not in SECTIONS:
                    problems.append(f"{at(path, number)}: {name}: no section [{section}] "
                                    f"(sections: {', '.join(SECTIONS)})")
                    continue
                if match["wild"]:
                    if key and not any(k.startswith(key) for k in SECTIONS[section]):
                        problems.append(f"{at(path, number)}: {match[0]}: no key of [{section}] starts with {key}")
                    continue
                if key not in SECTIONS[section]:
                    problems.append(f"{at(path, number)}: {name}: [{section}] has no key {key!r} "
                                    f"(keys: {', '.join(SECTIONS[section])})")
                    continue
                value = match["value"]
                if value and not re.search(r"[$<{]|\.\.\.", value):
                    try:
                        SECTIONS[section][key].kind(value, f"{section}.{key}")
                    except ConfigError as exc:
                        problems.append(f"{at(path, number)}: {name}={value}: {exc}")
    report(problems)
    assert found > 10, "the collector found almost no CAPSULE_PROXY_* names"


def known_ports() -> dict[int, str]:
    """Every port some target listens on -> what it serves ('ops', 'server', 'emulator')."""
    roles: dict[int, str] = {}
    image = build_image()
    targets = [k8s_proxy_settings(), systemd_settings()[0],
               effective_settings(image.entrypoint + image.cmd, image.env, image.files, rel(DOCKERFILE))]
    targets += [compose_settings(name)[0] for name in compose_proxy_services()]
    for settings in targets:
        roles[settings.get("server", "port")] = "server"
        if settings.get("ops", "port"):
            roles[settings.get("ops", "port")] = "ops"
        roles[settings.get("emulator", "port")] = "emulator"
    return roles


def test_every_local_url_and_probe_path_under_deploy_matches_a_listener():
    roles, problems = known_ports(), []
    for path in deploy_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in URL.finditer(line):
                where = at(path, number)
                port = int(match["port"]) if match["port"] else None
                url_path = (match["path"] or "").split("?")[0].rstrip(".")
                if port is None:
                    continue
                role = roles.get(port)
                if role is None:
                    problems.append(f"{where}: {match[0]}: no target listens on port {port} "
                                    f"(ports: {', '.join(f'{p} {r}' for p, r in sorted(roles.items()))})")
                elif role == "ops" and url_path and url_path not in PROBE_PATHS:
                    problems.append(f"{where}: {match[0]}: the ops port serves only {sorted(PROBE_PATHS)}")
                elif role == "server" and url_path and not (url_path.startswith("/api") or url_path in PROBE_PATHS):
                    problems.append(f"{where}: {match[0]}: the proxy serves the v1 API under /api")
                elif role == "emulator" and url_path and not (url_path.startswith("/api/v2") or url_path == "/healthz"):
                    problems.append(f"{where}: {match[0]}: the emulator serves /api/v2 and /healthz")
            for match in PROBE_LIKE.finditer(line):
                if match[0] not in PROBE_PATHS:
                    problems.append(f"{at(path, number)}: {match[0]}: the proxy's probe paths are "
                                    f"{sorted(PROBE_PATHS)}")
            for match in HEALTHCHECK_CALL.finditer(line):
                if match["args"].strip():
                    try:
                        healthcheck_args(["healthcheck.py", *match["args"].split()], at(path, number))
                    except AssertionError as exc:
                        problems.append(str(exc))
    report(problems)


# Tests: the health-check script itself, against real processes.

async def _start(*args: str, **settings: str) -> tuple[asyncio.subprocess.Process, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)} | settings
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, cwd=ROOT)
    line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    match = re.search(r"listening on http://[^\s:]+:(\d+)", line)
    if not match:
        process.kill()
        _, err = await process.communicate()
        pytest.fail(f"no ready line from {args}: {line!r} {err.decode()!r}")
    return process, int(match[1])


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)


def test_the_healthcheck_finds_the_port_from_file_and_environment(tmp_path):
    module = load_healthcheck_module()
    config = tmp_path / "config.toml"
    config.write_text('[server]\nport = 8181\n[ops]\nhost = "0.0.0.0"\nport = 9911\n[emulator]\nport = 9191\n')
    env = {ENV_CONFIG_FILE: str(config)}
    assert module.target("serve", env) == ("127.0.0.1", 9911)
    assert module.target("serve", env | {"CAPSULE_PROXY_OPS_PORT": "0"}) == ("127.0.0.1", 8181)
    assert module.target("emulator", env) == ("127.0.0.1", 9191)
    assert module.main(["serve", "/nope"], environ=env) == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_the_healthcheck_script_against_real_processes():
    """The shipped script against `capsule-proxy serve` with its own ops listener, and the emulator."""
    module = load_healthcheck_module()
    ops_port = _free_port()
    proxy, proxy_port = await _start("serve", "--port", "0", CAPSULE_PROXY_OPS_PORT=str(ops_port))
    emulator, emulator_port = await _start("emulator", "--port", "0")
    settings = {"CAPSULE_PROXY_SERVER_PORT": str(proxy_port), "CAPSULE_PROXY_OPS_PORT": str(ops_port)}
    try:
        for path in sorted(PROBE_PATHS):
            assert await asyncio.to_thread(module.main, ["serve", path], settings) == 0, path
        assert await asyncio.to_thread(module.main, [], settings) == 0
        # With an ops listener the main port no longer answers the probes: the check must follow
        # the settings, which is why it reads them rather than hard-coding a port.
        main_port_only = {"CAPSULE_PROXY_SERVER_PORT": str(proxy_port)}
        assert await asyncio.to_thread(module.main, ["serve"], main_port_only) == 1
        assert await asyncio.to_thread(
            module.main, ["emulator"], {"CAPSULE_PROXY_EMULATOR_PORT": str(emulator_port)}) == 0
    finally:
        await _stop(proxy)
        await _stop(emulator)
    # Nothing listens there any more: unhealthy, not a crash.
    assert await asyncio.to_thread(module.main, ["serve"], settings) == 1
