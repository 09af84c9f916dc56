"""deploy/Dockerfile: hadolint, Docker's own build-context rules, the image's command against the
config it carries, and, where a Docker daemon and the base image are there, the image itself.

The Dockerfile is read with BuildKit's parser (the `dockerfile` package) and the
Dockerfile.dockerignore with Docker's own matcher (docker-py's PatternMatcher).
"""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from docker.utils.build import PatternMatcher

from proxy.config import ENV_CONFIG_FILE
from tests.deploy.helpers import (
    DOCKERFILE, DOCKERIGNORE, ROOT, build_image, check_healthcheck, check_invocation, effective_settings,
    find_tool, load_healthcheck_module, project_version, rel, report, require_tool, run, seconds,
)


def hadolint(path: Path) -> tuple[list[dict], str]:
    """hadolint's findings on `path` (JSON), failing on anything from level info up."""
    tool = require_tool("hadolint", "the Dockerfile lint", required_in_ci=True)   # a [test] extra
    result = run([tool, "--no-color", "--format", "json", "--failure-threshold", "info", str(path)])
    try:
        findings = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"hadolint printed no JSON (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    assert bool(findings) == (result.returncode != 0), (result.returncode, findings)
    return findings, result.stderr


def test_the_dockerfile_passes_hadolint():
    findings, _ = hadolint(DOCKERFILE)
    report([f"{rel(DOCKERFILE)}:{f['line']} {f['code']} {f['level']}: {f['message']}" for f in findings],
           "hadolint")


def test_hadolint_reports_a_broken_dockerfile(tmp_path):
    """The check is live: a floating tag, `cd` in RUN, a root USER and a shell-form CMD each fail."""
    text = DOCKERFILE.read_text()
    for old, new in (("ARG PYTHON_IMAGE=python:3.11-slim", "ARG PYTHON_IMAGE=python:3.11-slim\nFROM python:latest AS extra"),
                     ("WORKDIR /src\n", "RUN cd /src && ls\n"),
                     ("USER 65532:65532", "USER root"),
                     ('CMD ["serve"]', "CMD capsule-proxy serve")):
        assert old in text, old
        text = text.replace(old, new, 1)
    broken = tmp_path / "Dockerfile"
    broken.write_text(text)
    findings, _ = hadolint(broken)
    assert {"DL3007", "DL3003", "DL3002", "DL3025"} <= {f["code"] for f in findings}, findings


def test_the_image_is_multi_stage_non_root_with_a_healthcheck():
    image, problems = build_image(), []
    bases = {stage.base for stage in image.stages}
    if len(image.stages) < 2 or len(bases) != 1:
        problems.append(f"{rel(DOCKERFILE)}: expected 2 or more stages on one base (the virtualenv links to its "
                        f"Python), found {[(s.name, s.base) for s in image.stages]}")
    names = {stage.name for stage in image.stages}
    for stage in image.stages:
        for command in stage.commands:
            source = next((f.split("=", 1)[1] for f in command.flags if f.startswith("--from=")), None)
            if command.cmd == "COPY" and source and source not in names:
                problems.append(f"{rel(DOCKERFILE)}:{command.start_line}: COPY --from={source}: no such stage")
    base = image.stages[-1].base
    match = re.fullmatch(r"python:(\d+)\.(\d+)-slim\S*", base)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    need = tuple(int(n) for n in re.search(r"(\d+)\.(\d+)", requires).groups())
    if not match or (int(match[1]), int(match[2])) < need:
        problems.append(f"{rel(DOCKERFILE)}: runtime base {base!r} is not a python:X.Y-slim image for {requires}")
    uid = image.user.split(":")[0]
    if not uid.isdigit() or int(uid) == 0:
        problems.append(f"{rel(DOCKERFILE)}: USER {image.user!r} must be a numeric uid other than 0")
    if not image.healthcheck:
        problems.append(f"{rel(DOCKERFILE)}: no HEALTHCHECK")
    if image.env.get(ENV_CONFIG_FILE) not in image.files:
        problems.append(f"{rel(DOCKERFILE)}: {ENV_CONFIG_FILE}={image.env.get(ENV_CONFIG_FILE)}, but nothing is copied there")
    problems += [f"{rel(DOCKERFILE)}: COPY source {rel(p)} does not exist" for p in image.files.values() if not p.exists()]
    report(problems)


def test_the_image_command_healthcheck_and_ports_agree_with_its_config():
    image = build_image()
    report(check_invocation(image.argv[1:], f"{rel(DOCKERFILE)}: ENTRYPOINT + CMD"))
    settings = effective_settings(image.argv, image.env, image.files, f"{rel(DOCKERFILE)}: ENTRYPOINT + CMD")
    problems = check_healthcheck(image.healthcheck, image.env, image.files, settings, image.argv[1],
                                 f"{rel(DOCKERFILE)}: HEALTHCHECK")
    timeout = seconds(image.healthcheck_options.get("timeout", "30s"))
    if timeout <= load_healthcheck_module().TIMEOUT:
        problems.append(f"{rel(DOCKERFILE)}: HEALTHCHECK --timeout {timeout}s must exceed the script's own "
                        f"{load_healthcheck_module().TIMEOUT}s")
    listening = {settings.get("server", "port"), settings.get("ops", "port")} - {0}
    if set(image.expose) != listening:
        problems.append(f"{rel(DOCKERFILE)}: EXPOSE {sorted(image.expose)}, but the image listens on {sorted(listening)}")
    if settings.get("emulator", "db"):
        problems.append(f"{rel(DOCKERFILE)}: [emulator] db is set: a read-only root filesystem breaks it")
    report(problems)


def dockerignore() -> PatternMatcher:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return PatternMatcher([line for line in lines if line and not line.startswith("#")])


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_else():
    matcher, image, problems = dockerignore(), build_image(), []
    for stage in image.stages:
        for command in stage.commands:
            if command.cmd != "COPY" or any(f.startswith("--from") for f in command.flags):
                continue
            for source in command.value[:-1]:
                path = ROOT / source
                files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
                for file in files:
                    if "__pycache__" not in file.parts and matcher.matches(rel(file)):
                        problems.append(f"{rel(DOCKERFILE)}:{command.start_line}: {rel(file)} is left out of the "
                                        f"build context by {rel(DOCKERIGNORE)}")
    for unwanted in (".git/HEAD", ".venv/bin/python", "tests/conftest.py", "bench/results/run.json",
                     "bench/load.py", "build/lib/proxy/cli.py", "proxy/__pycache__/cli.cpython-311.pyc",
                     "capsule_proxy.egg-info/PKG-INFO", "deploy/kubernetes/secret.yaml", "config.example.toml"):
        if not matcher.matches(unwanted):
            problems.append(f"{rel(DOCKERIGNORE)}: {unwanted} would be sent to the Docker daemon")
    report(problems)


# --------------------------------------------------------------------------------------------
# The image itself: only where a Docker daemon runs and the base image is already there.

def _docker_or_skip() -> str:
    docker = find_tool("docker")
    if docker is None:
        pytest.skip("docker is not installed: `make image` and the image's /healthz are not checked")
    info = run([docker, "info", "--format", "{{.ServerVersion}}"], timeout=60)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.skip(f"no Docker daemon ({reason}): `make image` and the image's /healthz are not checked")
    base = build_image().stages[-1].base
    if run([docker, "image", "inspect", base], timeout=60).returncode != 0:
        pytest.skip(f"the base image {base} is not on this machine (`docker pull {base}` where a registry is "
                    "reachable): `make image` and the image's /healthz are not checked")
    return docker


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - a loopback URL
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.mark.slow
def test_the_image_serves_healthz_as_a_non_root_user_on_a_read_only_root():
    docker = _docker_or_skip()
    built = run(["make", "image"], cwd=ROOT, timeout=1800)
    assert built.returncode == 0, f"make image failed:\n{built.stdout[-3000:]}{built.stderr[-3000:]}"
    image, tag = build_image(), f"capsule-proxy:{project_version()}"
    name = f"capsule-proxy-test-{os.getpid()}"
    started = run([docker, "run", "--detach", "--name", name, "--read-only", "--cap-drop", "ALL",
                   "--security-opt", "no-new-privileges:true", "--publish", "127.0.0.1::9901", tag])
    assert started.returncode == 0, started.stderr
    try:
        port = run([docker, "port", name, "9901/tcp"]).stdout.split()[0].rsplit(":", 1)[1]
        deadline, status = time.monotonic() + 60, 0
        while time.monotonic() < deadline and status != 200:
            time.sleep(0.5)
            status = _get(f"http://127.0.0.1:{port}/healthz")
        logs = run([docker, "logs", name]).stderr[-2000:]
        assert status == 200, f"GET /healthz on the published ops port answered {status}; logs:\n{logs}"
        ids = run([docker, "exec", name, "python", "-c", "import os; print(os.getuid(), os.getgid())"])
        assert ids.stdout.split() == image.user.split(":") and ids.stdout.split()[0] != "0", (ids.stdout, ids.stderr)
        write = run([docker, "exec", name, "python", "-c", "open('/etc/capsule-proxy/probe', 'w')"])
        assert write.returncode != 0 and "Read-only file system" in write.stderr, write
        # The image's own HEALTHCHECK (the shipped healthcheck.py) turns the container healthy.
        deadline, health = time.monotonic() + 90, ""
        while time.monotonic() < deadline and health != "healthy":
            time.sleep(2)
            health = run([docker, "inspect", "--format", "{{.State.Health.Status}}", name]).stdout.strip()
        assert health == "healthy", health
    finally:
        run([docker, "rm", "--force", name])
