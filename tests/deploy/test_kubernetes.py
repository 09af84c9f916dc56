"""deploy/kubernetes: valid against the Kubernetes API schemas, and in step with the proxy's config.

The schemas come with kubernetes-validate (no cluster, no network). The manifests are checked
strictly (an unknown field is an error) for two pinned Kubernetes versions: 1.29, the oldest that
runs the proxy as a native sidecar (an init container with restartPolicy: Always), and 1.33, where
native sidecars are GA. The kustomization is rendered with `kubectl kustomize`, where kubectl is
installed, and its output is checked the same way.
"""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from proxy.config import ENV_CONFIG_FILE, Settings, load_settings
from tests.deploy.helpers import (
    K8S, Image, build_image, effective_settings, is_proxy_image, load_yaml, probe_paths, project_version,
    rel, report, require_tool, run,
)

KUBERNETES_VERSIONS = ("1.29.0", "1.33.0")
RSS_PER_WORKER_MIB = 80  # measured: a worker stays under 80 MB RSS
UPSTREAM_CHECK_SECONDS = 3  # /readyz waits this long for Capsule


# --------------------------------------------------------------------------------------------
# The objects, as kustomize lists them.

def kustomization() -> dict:
    [doc] = load_yaml(K8S / "kustomization.yaml")
    return doc


def k8s_objects() -> list[tuple[Path, dict]]:
    return [(K8S / name, doc) for name in kustomization()["resources"] for doc in load_yaml(K8S / name)]


def k8s_find(kind: str) -> list[dict]:
    return [doc for _, doc in k8s_objects() if doc["kind"] == kind]


def deployment() -> dict:
    [found] = k8s_find("Deployment")
    return found


def pod_spec() -> dict:
    return deployment()["spec"]["template"]["spec"]


def all_containers(spec: dict) -> list[dict]:
    return list(spec.get("initContainers", [])) + list(spec.get("containers", []))


def proxy_container() -> dict:
    [container] = [c for c in all_containers(pod_spec()) if is_proxy_image(c["image"])]
    return container


def secret_values() -> dict[tuple[str, str], str]:
    values = {}
    for secret in k8s_find("Secret"):
        name = secret["metadata"]["name"]
        values.update({(name, k): str(v) for k, v in (secret.get("stringData") or {}).items()})
        values.update({(name, k): base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()})
    return values


def container_env(container: dict) -> dict[str, str]:
    """The container's environment, secretKeyRef values taken from the Secret manifests."""
    secrets, env = secret_values(), {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets.get((ref["name"], ref["key"]), "")
    return env


def container_files(container: dict, image: Image) -> dict[str, Path]:
    """The image's files, with the generated ConfigMap mounted over them."""
    files = dict(image.files)
    generators = {g["name"]: g for g in kustomization().get("configMapGenerator", [])}
    volumes = {v["name"]: v for v in pod_spec().get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        config_map = volumes.get(mount["name"], {}).get("configMap")
        generator = generators.get((config_map or {}).get("name"))
        if generator is None:
            continue
        sources = {Path(f.split("=")[-1]).name: K8S / f.split("=")[-1] for f in generator.get("files", [])}
        root = mount["mountPath"].rstrip("/")
        files = {p: s for p, s in files.items() if not p.startswith(root + "/")}  # the mount hides them
        for item in config_map.get("items") or [{"key": k, "path": k} for k in sources]:
            if item["key"] in sources:
                files[str(PurePosixPath(root) / item["path"])] = sources[item["key"]]
    return files


def container_argv(container: dict, image: Image) -> list[str]:
    if "command" in container:
        return list(container["command"]) + list(container.get("args", []))
    return image.entrypoint + list(container["args"] if "args" in container else image.cmd)


def k8s_proxy_settings() -> Settings:
    container, image = proxy_container(), build_image()
    env = image.env | container_env(container)
    where = f"{rel(K8S / 'deployment.yaml')}: container {container['name']}"
    return effective_settings(container_argv(container, image), env, container_files(container, image), where)


def resolve_port(port: Any, container: dict) -> int | None:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    return {p.get("name"): p["containerPort"] for p in container.get("ports", [])}.get(port)


def memory_mib(quantity: str) -> float:
    units = {"Ki": 2 ** -10, "Mi": 1, "Gi": 2 ** 10, "k": 1e3 / 2 ** 20, "M": 1e6 / 2 ** 20, "G": 1e9 / 2 ** 20}
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i|[kMG])?", str(quantity)).groups()
    return float(number) * units.get(unit, 2 ** -20)


# --------------------------------------------------------------------------------------------
# The schemas.

def schema_errors(path: Path | str, docs: list[dict], version: str) -> list[str]:
    problems = []
    for doc in docs:
        name = f"{path}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            at = ".".join(str(p) for p in exc.path) or "(top level)"
            problems.append(f"{name}: {at}: {exc.message} (Kubernetes {version})")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{name}: {exc}")
    return problems


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_for_kubernetes(version):
    problems = []
    for name in kustomization()["resources"]:
        problems += schema_errors(rel(K8S / name), load_yaml(K8S / name), version)
    report(problems, "kubernetes-validate --strict")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_kustomize_output_is_valid_for_kubernetes(version):
    kubectl = require_tool("kubectl", "the kustomize rendering of deploy/kubernetes")
    rendered = run([kubectl, "kustomize", str(K8S)])
    assert rendered.returncode == 0, f"kubectl kustomize {rel(K8S)} failed:\n{rendered.stderr}"
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    report(schema_errors(f"kubectl kustomize {rel(K8S)}", docs, version), "kubernetes-validate --strict")
    # The generated ConfigMap carries config.toml as is, and the pods mount it under its hashed name.
    [config_map] = [d for d in docs if d["kind"] == "ConfigMap"]
    assert config_map["data"]["config.toml"] == (K8S / "config.toml").read_text()
    [rendered_deployment] = [d for d in docs if d["kind"] == "Deployment"]
    mounted = {v["configMap"]["name"] for v in rendered_deployment["spec"]["template"]["spec"]["volumes"]
               if "configMap" in v}
    assert config_map["metadata"]["name"] in mounted, (config_map["metadata"]["name"], mounted)


@pytest.mark.parametrize("breakage", ["wrong type", "unknown field", "missing field"])
def test_kubernetes_validate_reports_a_broken_manifest(breakage):
    """The check is live: each broken copy of the Deployment is refused, naming the field."""
    broken = copy.deepcopy(deployment())
    proxy = next(c for c in broken["spec"]["template"]["spec"]["initContainers"] if is_proxy_image(c["image"]))
    if breakage == "wrong type":
        broken["spec"]["replicas"] = "two"
        expected = "spec.replicas"
    elif breakage == "unknown field":
        proxy["livenessProbes"] = proxy.pop("livenessProbe")
        expected = "livenessProbes"
    else:
        del proxy["image"], proxy["name"]
        expected = "'name' is a required property"
    for version in KUBERNETES_VERSIONS:
        problems = schema_errors("deployment.yaml", [broken], version)
        assert problems and expected in problems[0], (breakage, problems)


def test_the_schemas_tell_kubernetes_versions_apart():
    """The version matters: 1.27's API has no restartPolicy on init containers, so no native sidecar
    (1.28 has the field, behind an alpha feature gate; 1.29 turns it on by default)."""
    problems = schema_errors("deployment.yaml", [deployment()], "1.27.0")
    assert problems and "'restartPolicy' was unexpected" in problems[0], problems


# --------------------------------------------------------------------------------------------
# Across the files: the kustomization, the image, the config and the Secrets agree.

def test_the_kustomization_lists_every_manifest_and_sets_the_project_version():
    doc, problems = kustomization(), []
    listed = set(doc.get("resources", []))
    listed |= {f.split("=")[-1] for g in doc.get("configMapGenerator", []) for f in g.get("files", [])}
    for name in sorted(listed):
        if not (K8S / name).is_file():
            problems.append(f"{rel(K8S / 'kustomization.yaml')}: {name} does not exist")
    for path in sorted(K8S.iterdir()):
        if path.name != "kustomization.yaml" and path.name not in listed:
            problems.append(f"{rel(path)}: not in kustomization.yaml, so `kubectl apply -k` skips it")
    images = {i["name"]: i for i in doc.get("images", [])}
    if str(images.get("capsule-proxy", {}).get("newTag")) != project_version():
        problems.append(f"{rel(K8S / 'kustomization.yaml')}: images capsule-proxy newTag is "
                        f"{images.get('capsule-proxy', {}).get('newTag')!r}, pyproject.toml says {project_version()}")
    report(problems)


def test_the_proxy_is_a_native_sidecar():
    spec, container = pod_spec(), proxy_container()
    assert container in spec.get("initContainers", []) and container.get("restartPolicy") == "Always", (
        f"{rel(K8S / 'deployment.yaml')}: the proxy must be an init container with restartPolicy: Always")


def test_the_probes_ask_paths_the_ops_listener_serves_on_its_port():
    container, settings, problems = proxy_container(), k8s_proxy_settings(), []
    ops_port = settings.get("ops", "port")
    assert ops_port, f"{rel(K8S / 'config.toml')}: set [ops] port so the probes have their own listener"
    if settings.get("ops", "host") != "0.0.0.0":
        problems.append(f"{rel(K8S / 'config.toml')}: [ops] host is {settings.get('ops', 'host')!r}; the kubelet "
                        "and Prometheus need 0.0.0.0")
    expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for kind, want in expected.items():
        get = (container.get(kind) or {}).get("httpGet")
        where = f"{rel(K8S / 'deployment.yaml')}: {container['name']}.{kind}"
        if not get:
            problems.append(f"{where}: missing, or not an HTTP probe")
            continue
        if get.get("path") != want or want not in probe_paths():
            problems.append(f"{where}: asks {get.get('path')}, expected {want} (served: {sorted(probe_paths())})")
        if resolve_port(get.get("port"), container) != ops_port:
            problems.append(f"{where}: port {get.get('port')!r} is not the [ops] port {ops_port}")
    if container.get("readinessProbe", {}).get("timeoutSeconds", 1) <= UPSTREAM_CHECK_SECONDS:
        problems.append(f"{rel(K8S / 'deployment.yaml')}: readinessProbe timeoutSeconds must exceed the "
                        f"{UPSTREAM_CHECK_SECONDS} s /readyz waits for Capsule")
    report(problems)


def test_every_port_and_the_scrape_annotations_match_the_config():
    settings, container, problems = k8s_proxy_settings(), proxy_container(), []
    ops, server = settings.get("ops", "port"), settings.get("server", "port")
    where = f"{rel(K8S / 'deployment.yaml')}: {container['name']}"
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if ports.get("metrics") != ops:
        problems.append(f"{where}: the port named 'metrics' is {ports.get('metrics')}, [ops] port is {ops}")
    for name, port in ports.items():
        if port not in (ops, server):
            problems.append(f"{where}: containerPort {port} ({name}) is neither [ops] port {ops} nor [server] port {server}")
    for service in k8s_find("Service"):
        where = f"{rel(K8S / 'service.yaml')}: Service/{service['metadata']['name']}"
        for port in service["spec"]["ports"]:
            target = resolve_port(port.get("targetPort", port["port"]), container)
            if target != ops or port.get("name") != "metrics":
                problems.append(f"{where}: port {port} should be named 'metrics' and target [ops] port {ops}")
        notes = service["metadata"].get("annotations", {})
        wanted = {"prometheus.io/scrape": "true", "prometheus.io/port": str(ops), "prometheus.io/path": "/metrics"}
        if {k: str(notes.get(k)) for k in wanted} != wanted:
            problems.append(f"{where}: annotations {notes}, expected {wanted}")
    if "/metrics" not in probe_paths():
        problems.append(f"the ops listener serves {sorted(probe_paths())}, no /metrics for Prometheus")
    report(problems)


def test_the_app_reaches_the_proxy_on_loopback_with_an_allowed_token():
    settings, problems = k8s_proxy_settings(), []
    if settings.get("server", "host") != "127.0.0.1":
        problems.append(f"{rel(K8S / 'config.toml')}: [server] host is {settings.get('server', 'host')!r}; a "
                        "sidecar's v1 API should listen on 127.0.0.1 only")
    apps = [c for c in all_containers(pod_spec()) if not is_proxy_image(c["image"])]
    assert apps, f"{rel(K8S / 'deployment.yaml')}: no application container beside the proxy"
    for app in apps:
        where = f"{rel(K8S / 'deployment.yaml')}: {app['name']}"
        urls = [v for v in container_env(app).values() if v.startswith("http")]
        if not urls:
            problems.append(f"{where}: no proxy URL in its environment")
        for url in urls:
            parts = urlsplit(url)
            if (parts.hostname, parts.port) != ("127.0.0.1", settings.get("server", "port")):
                problems.append(f"{where}: {url} is not the proxy's 127.0.0.1:{settings.get('server', 'port')}")
        token = container_env(app).get("CAPSULE_TOKEN")
        if settings.get("auth", "mode") == "static" and token not in settings.get("auth", "allowed_clients"):
            problems.append(f"{where}: its CAPSULE_TOKEN is not one of the proxy's [auth] allowed_clients")
    report(problems)


def test_the_proxy_container_is_locked_down():
    spec, container, image, problems = pod_spec(), proxy_container(), build_image(), []
    pod, own = spec.get("securityContext", {}), container.get("securityContext", {})
    where = f"{rel(K8S / 'deployment.yaml')}: {container['name']}.securityContext"
    wants = {"runAsNonRoot": True, "runAsUser": int(image.user.split(":")[0]), "readOnlyRootFilesystem": True,
             "allowPrivilegeEscalation": False}
    for key, want in wants.items():
        if own.get(key, pod.get(key)) != want:
            problems.append(f"{where}.{key} is {own.get(key, pod.get(key))!r}, expected {want!r} "
                            "(runAsUser: the Dockerfile's USER)")
    if "ALL" not in own.get("capabilities", {}).get("drop", []):
        problems.append(f"{where}.capabilities.drop must contain ALL")
    if own.get("seccompProfile", pod.get("seccompProfile", {})).get("type") != "RuntimeDefault":
        problems.append(f"{where}.seccompProfile.type must be RuntimeDefault")
    if k8s_proxy_settings().get("emulator", "db"):
        problems.append(f"{where}: [emulator] db is set, but the root filesystem is read-only")
    if spec.get("enableServiceLinks") is not False:
        problems.append(f"{rel(K8S / 'deployment.yaml')}: set enableServiceLinks: false, or a Service named "
                        "capsule-proxy-<section> injects CAPSULE_PROXY_<SECTION>_* variables the proxy rejects")
    report(problems)


def test_requests_and_limits_fit_the_workers_and_the_grace_period_outlasts_the_drain():
    container, settings, problems = proxy_container(), k8s_proxy_settings(), []
    resources = container.get("resources", {})
    where = f"{rel(K8S / 'deployment.yaml')}: {container['name']}"
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(kind, {}):
                problems.append(f"{where}: no resources.{kind}.{resource}")
    workers, limit = settings.get("server", "workers"), resources.get("limits", {}).get("memory")
    if limit and memory_mib(limit) < workers * RSS_PER_WORKER_MIB * 1.2:
        problems.append(f"{where}: memory limit {limit} is tight for {workers} worker(s) of {RSS_PER_WORKER_MIB} MiB")
    drain, grace = settings.get("server", "shutdown_timeout"), pod_spec().get("terminationGracePeriodSeconds", 30)
    if grace <= drain:
        problems.append(f"{rel(K8S / 'deployment.yaml')}: terminationGracePeriodSeconds {grace} must exceed "
                        f"[server] shutdown_timeout {drain}")
    report(problems)


def test_selectors_match_the_pod_labels():
    deploy, problems = deployment(), []
    labels = deploy["spec"]["template"]["metadata"]["labels"]

    def matches(selector: dict) -> bool:
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    if not matches(deploy["spec"]["selector"]["matchLabels"]):
        problems.append("the Deployment's selector misses its own pods")
    for pdb in k8s_find("PodDisruptionBudget"):
        if not matches(pdb["spec"]["selector"].get("matchLabels", {})):
            problems.append(f"PodDisruptionBudget/{pdb['metadata']['name']} selects no pod of the Deployment")
        minimum = pdb["spec"].get("minAvailable")
        if isinstance(minimum, int) and minimum >= deploy["spec"].get("replicas", 1):
            problems.append(f"PodDisruptionBudget/{pdb['metadata']['name']}: minAvailable {minimum} >= replicas, "
                            "so no node could ever be drained")
    for service in k8s_find("Service"):
        if not matches(service["spec"].get("selector", {})):
            problems.append(f"Service/{service['metadata']['name']} selects no pod of the Deployment")
    report(problems)


def test_the_config_map_is_mounted_where_the_proxy_reads_it():
    container, image = proxy_container(), build_image()
    config_path = (image.env | container_env(container)).get(ENV_CONFIG_FILE)
    source = container_files(container, image).get(config_path)
    assert source == K8S / "config.toml", (
        f"{rel(K8S / 'deployment.yaml')}: {ENV_CONFIG_FILE}={config_path} in the container is not the "
        f"ConfigMap's config.toml (it is {source})")
    settings = load_settings(source, environ={})
    assert settings.get("upstream", "url").startswith("https://"), "the sidecar should talk to the real Capsule"
    assert settings.get("log", "format") == "json"


def test_every_secret_key_is_used_and_every_reference_exists():
    values, used, problems = secret_values(), set(), []
    for container in all_containers(pod_spec()):
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                used.add((ref["name"], ref["key"]))
                if (ref["name"], ref["key"]) not in values:
                    problems.append(f"{container['name']}: {item['name']}: Secret {ref['name']} has no key {ref['key']}")
    for secret, key in sorted(set(values) - used):
        problems.append(f"{rel(K8S / 'secret.yaml')}: Secret {secret} key {key} is used by no container")
    from_secrets = {item["name"] for item in proxy_container().get("env", []) if "valueFrom" in item}
    for name in ("CAPSULE_PROXY_AUTH_STATIC_TOKEN", "CAPSULE_PROXY_AUTH_ALLOWED_CLIENTS"):
        if name not in from_secrets:
            problems.append(f"{rel(K8S / 'deployment.yaml')}: {name} does not come from a Secret")
    report(problems)
