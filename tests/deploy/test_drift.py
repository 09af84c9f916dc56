"""Drift across every file under deploy/: each `capsule-proxy` command, CAPSULE_PROXY_* variable,
local URL, port, probe path, config file and version named there exists in the code.

Structured values (the image's command, the Compose and Kubernetes commands, the unit's ExecStart)
come from the parsers in helpers.py and the per-target test modules. Commands written in prose and
comments (deploy/README.md's shell blocks and `code` spans, indented comment lines) are split into
simple commands with the standard library's shell lexer (shlex).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Iterator

from proxy.config import ENV_CONFIG_FILE, ENV_PREFIX, SECTIONS, ConfigError, Settings, load_settings
from tests.deploy.helpers import (
    COMPOSE, DOCKERFILE, UNIT, build_image, check_invocation, deploy_files, effective_settings, healthcheck_args,
    probe_paths, project_version, rel, report,
)
from tests.deploy.test_compose import compose, compose_argv, proxy_services, service_settings
from tests.deploy.test_kubernetes import container_argv, k8s_proxy_settings, proxy_container
from tests.deploy.test_systemd import systemd_settings

SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
OPERATORS = set(";&|()<>")
IMAGE_REF = re.compile(r"(?:[\w.-]+(?::\d+)?/)*capsule-proxy:[\w.+-]+")
ENV_NAME = re.compile(r"\bCAPSULE_PROXY_[A-Z0-9]+(?:_[A-Z0-9]+)*(?P<wild>_?\*)?(?:=(?P<value>[^\s\"'`,)]*))?")
URL = re.compile(r"https?://(?P<host>127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1\]|emulator|proxy)"
                 r"(?::(?P<port>\d+))?(?P<path>/[^\s\"'`)<>,]*)?")
PROBE_LIKE = re.compile(r"(?<![\w.$/-])/(?:health|healthz|ready|readyz|readiness|live|livez|liveness|"
                        r"status|ping|metric|metrics|stats)(?![\w.-])")


# --------------------------------------------------------------------------------------------
# Commands written in prose and comments.

def shell_snippets() -> Iterator[tuple[str, str]]:
    """(file:line, shell text): lines of the README's shell blocks (continuations joined), `code`
    spans of its prose, and the indented comment lines (`#   command`) and `code` spans of comments."""
    for path in deploy_files():
        lines, fence, pending, start = path.read_text().splitlines(), None, "", 0
        for number, line in enumerate(lines, 1):
            if path.suffix == ".md" and (opened := re.match(r"\s*```(\w*)", line)):
                fence = (opened[1] or "text") if fence is None else None
                continue
            if fence in SHELL_LANGUAGES:
                start = start or number
                if line.rstrip().endswith("\\"):
                    pending += line.rstrip()[:-1] + " "
                    continue
                yield f"{rel(path)}:{start}", pending + line
                pending, start = "", 0
            elif fence is None:
                comment = line if path.suffix == ".md" else line.partition("#")[2] if "#" in line else ""
                if path.suffix != ".md" and re.match(r"\s{2,}\S", comment):
                    yield f"{rel(path)}:{number}", comment
                for span in re.findall(r"`([^`\n]+)`", comment):
                    yield f"{rel(path)}:{number}", span


def capsule_proxy_commands(text: str) -> Iterator[list[str] | None]:
    """The argument list of each `capsule-proxy ...` or `docker run ... capsule-proxy:TAG ...` simple
    command in `text`; None for a `docker run` of the image's default command."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: prose, not a command
        return
    words: list[str] = []
    for token in [*tokens, ";"]:
        if token and set(token) <= OPERATORS:
            while words and (words[0] in ("sudo", "exec", "env", "$") or re.fullmatch(r"[A-Za-z_]\w*=.*", words[0])):
                words = words[1:]
            if words[1:] and Path(words[0]).name == "capsule-proxy":  # a bare name is a mention
                yield words[1:]
            elif words[:2] == ["docker", "run"] or words[:3] == ["docker", "container", "run"]:
                image = next((i for i, w in enumerate(words) if IMAGE_REF.fullmatch(w)), None)
                if image is not None:
                    yield words[image + 1:] or None
            words = []
        else:
            words.append(token)


def test_every_capsule_proxy_command_under_deploy_exists():
    problems, seen = [], []
    for where, text in shell_snippets():
        for tail in capsule_proxy_commands(text):
            seen.append((where, tail))
            if tail is not None:
                problems += check_invocation(tail, where)
    image = build_image()
    structured = [(f"{rel(DOCKERFILE)}: ENTRYPOINT + CMD", image.argv),
                  (f"deploy/kubernetes/deployment.yaml: {proxy_container()['name']}",
                   container_argv(proxy_container(), image)),
                  (f"{rel(UNIT)}: ExecStart", systemd_settings()[1])]
    structured += [(f"{rel(COMPOSE)}: services.{name}", compose_argv(service, image))
                   for name, service in proxy_services().items()]
    for where, argv in structured:
        if Path(argv[0]).name != "capsule-proxy":
            problems.append(f"{where}: runs {argv[0]}, not capsule-proxy")
        problems += check_invocation(argv[1:], where)
    report(problems)
    # The collector is live: it finds the README's check-config commands and its `docker run`s.
    assert any(tail and tail[0] == "check-config" for _, tail in seen), seen
    assert any(tail is None for _, tail in seen), seen


def test_the_command_collector_catches_a_wrong_flag_or_subcommand():
    found = [check_invocation(tail, "x") for tail in capsule_proxy_commands(
        "sudo /opt/capsule-proxy/venv/bin/capsule-proxy serve --listen 0.0.0.0 && capsule-proxy run; "
        "docker run --rm -p 8080:8080 capsule-proxy:0.1.0 emulator --hots 0.0.0.0 | tee log")]
    assert len(found) == 3 and all(found), found
    assert "has no flag --listen" in found[0][0] and "no such subcommand" in found[1][0] and "--hots" in found[2][0]
    assert list(capsule_proxy_commands("systemctl enable --now capsule-proxy; journalctl -u capsule-proxy -f")) == []


# --------------------------------------------------------------------------------------------
# Settings and their environment variables.

def test_every_config_file_under_deploy_is_valid(tmp_path):
    problems = []
    for path in deploy_files():
        if path.suffix == ".toml":
            try:
                load_settings(path, environ={})
            except ConfigError as exc:
                problems.append(f"{rel(path)}: {exc}")
    report(problems)


def test_every_environment_variable_under_deploy_is_a_real_setting():
    problems, found = [], 0
    for path in deploy_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in ENV_NAME.finditer(line):
                found += 1
                where = f"{rel(path)}:{number}: {match[0]}"
                name = match[0].split("=")[0].rstrip("*").rstrip("_")
                if name == ENV_CONFIG_FILE:
                    continue
                section, _, key = name[len(ENV_PREFIX):].lower().partition("_")
                if section not in SECTIONS:
                    problems.append(f"{where}: no section [{section}] (sections: {', '.join(SECTIONS)})")
                elif match["wild"]:
                    if key and not any(k.startswith(key) for k in SECTIONS[section]):
                        problems.append(f"{where}: no key of [{section}] starts with {key}")
                elif key not in SECTIONS[section]:
                    problems.append(f"{where}: [{section}] has no key {key!r} (keys: {', '.join(SECTIONS[section])})")
                elif match["value"] and not re.search(r"[$<{]|\.\.\.", match["value"]):
                    try:
                        SECTIONS[section][key].kind(match["value"], f"{section}.{key}")
                    except ConfigError as exc:
                        problems.append(f"{where}: {exc}")
    report(problems)
    assert found > 10, "the collector found almost no CAPSULE_PROXY_* names"


# --------------------------------------------------------------------------------------------
# Ports, URLs, probe paths and versions.

def every_target() -> list[Settings]:
    image = build_image()
    targets = [k8s_proxy_settings(), systemd_settings()[0],
               effective_settings(image.argv, image.env, image.files, rel(DOCKERFILE))]
    return targets + [service_settings(name)[0] for name in proxy_services()]


def test_every_local_url_and_probe_path_under_deploy_matches_a_listener():
    roles: dict[int, str] = {}
    for settings in every_target():
        roles[settings.get("server", "port")] = "server"
        roles[settings.get("emulator", "port")] = "emulator"
        if settings.get("ops", "port"):
            roles[settings.get("ops", "port")] = "ops"
    probes, problems = probe_paths(), []
    for path in deploy_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{rel(path)}:{number}"
            for match in URL.finditer(line):
                if not match["port"]:
                    continue
                port, url_path = int(match["port"]), (match["path"] or "").split("?")[0].rstrip(".:")
                role = roles.get(port)
                if role is None:
                    problems.append(f"{where}: {match[0]}: nothing listens on {port} ({roles})")
                elif role == "ops" and url_path and url_path not in probes:
                    problems.append(f"{where}: {match[0]}: the ops port serves only {sorted(probes)}")
                elif role == "server" and url_path and not (url_path.startswith("/api") or url_path in probes):
                    problems.append(f"{where}: {match[0]}: the proxy serves the v1 API under /api")
                elif role == "emulator" and url_path and not (url_path.startswith("/api/v2") or url_path == "/healthz"):
                    problems.append(f"{where}: {match[0]}: the emulator serves /api/v2 and /healthz")
            problems += [f"{where}: {m[0]}: the probe paths are {sorted(probes)}"
                         for m in PROBE_LIKE.finditer(line) if m[0] not in probes]
            for m in re.finditer(r"\bpython3?\s+\S*healthcheck\.py((?:[ \t]+[\w/]+(?![^\s`]))*)", line):
                try:
                    healthcheck_args(["healthcheck.py", *m[1].split()], where)
                except AssertionError as exc:
                    problems.append(str(exc))
    report(problems)


def test_every_image_tag_and_wheel_names_the_project_version():
    version, problems = project_version(), []
    for path in deploy_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for tag in re.findall(r"(?<![\w.-])capsule-proxy:(\d[\w.+-]*)", line):
                if tag != version:
                    problems.append(f"{rel(path)}:{number}: image tag capsule-proxy:{tag}, project version {version}")
            for wheel in re.findall(r"capsule_proxy-(\d[\w.+]*?)-py3", line):
                if wheel != version:
                    problems.append(f"{rel(path)}:{number}: wheel version {wheel}, project version {version}")
    if compose()["x-image"]["image"] != f"capsule-proxy:{version}":
        problems.append(f"{rel(COMPOSE)}: x-image.image is not capsule-proxy:{version}")
    report(problems)
