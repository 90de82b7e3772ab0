"""The Helm chart deploy/helm/hopsharbor: lint, render, validate against the Kubernetes schemas.

helm is built from source by deploy/tools/install-helm.sh (module fixture below; cached in
$CACHE_DIR/tools, a few minutes on a cold machine, instant when warm), so the module is marked
integration although it starts no server. Rendered manifests of core kinds are validated with
kubernetes-validate (the JSON schemas it ships, strict: unknown fields fail) for Kubernetes
K8S_VERSION. ServiceMonitor and PrometheusRule are CRDs of the Prometheus Operator, not in those
schemas: they are checked by structure here (apiVersion, kind, the fields the operator needs).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "hopsharbor"
INSTALL_HELM = REPO / "deploy" / "tools" / "install-helm.sh"
RULE_FILES = sorted((REPO / "deploy" / "prometheus").glob("*.rules.yml"))
DASHBOARDS = sorted((REPO / "grafana" / "dashboards").glob("*.json"))
K8S_VERSION = "1.33.0"
RELEASE = "hh"
CRD_API = "monitoring.coreos.com/v1"
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SECRET_WORD = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL", re.IGNORECASE)
OVERRIDE = [
    "--set", "worker.replicas=3",
    "--set", "image.repository=registry.local/hopsharbor", "--set", "image.tag=1.2.3",
    "--set", "monitoring.serviceMonitor.labels.release=kps",
    "--set", "secrets.harborPassword.secretName=harbor-admin", "--set", "secrets.harborPassword.key=pw",
    "--set", "grafana.datasource.enabled=true",
    "--set-string", "config.TOPIC_PARTITIONS=6",
]

Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def helm() -> str:
    proc = subprocess.run([str(INSTALL_HELM)], capture_output=True, text=True, timeout=1500)
    if proc.returncode != 0:
        pytest.fail(f"{INSTALL_HELM} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout.strip().splitlines()[-1]


def helm_run(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120)


def render(helm: str, *args: str) -> list[Manifest]:
    proc = helm_run(helm, "template", RELEASE, str(CHART), "--namespace", "hops",
                    "--kube-version", K8S_VERSION, *args)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module")
def default_manifests(helm: str) -> list[Manifest]:
    return render(helm)


@pytest.fixture(scope="module")
def override_manifests(helm: str) -> list[Manifest]:
    return render(helm, *OVERRIDE)


@pytest.fixture(params=["default", "override"])
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    return request.getfixturevalue(f"{request.param}_manifests")


def one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def deployments(manifests: list[Manifest]) -> dict[str, Manifest]:
    """component -> Deployment."""
    return {m["metadata"]["labels"]["app.kubernetes.io/component"]: m
            for m in manifests if m["kind"] == "Deployment"}


# --- helm itself ----------------------------------------------------------------------------------

@pytest.mark.parametrize("extra", [[], OVERRIDE], ids=["default", "override"])
def test_helm_lint_strict(helm: str, extra: list[str]) -> None:
    proc = helm_run(helm, "lint", "--strict", "--kube-version", K8S_VERSION, str(CHART), *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


def test_values_schema_refuses_a_second_connector_and_typos(helm: str) -> None:
    for bad in ("connector.replicas=2", "worker.replica=3", "secrets.mysqlPassword.secretName="):
        proc = helm_run(helm, "template", RELEASE, str(CHART), "--kube-version", K8S_VERSION, "--set", bad)
        assert proc.returncode != 0, bad
        assert "values don't meet the specifications of the schema" in proc.stderr, proc.stderr


def test_a_password_in_config_is_refused(helm: str) -> None:
    proc = helm_run(helm, "template", RELEASE, str(CHART), "--kube-version", K8S_VERSION,
                    "--set", "worker.config.HARBOR_PASSWORD=hunter2")
    assert proc.returncode != 0
    assert "looks like a secret" in proc.stderr


# --- schemas --------------------------------------------------------------------------------------

def test_every_core_manifest_is_valid_for_the_pinned_kubernetes(manifests: list[Manifest]) -> None:
    import kubernetes_validate

    core = [m for m in manifests if m["apiVersion"] != CRD_API]
    assert {m["kind"] for m in core} >= {"Deployment", "Service", "ConfigMap", "ServiceAccount"}
    for m in core:
        try:
            kubernetes_validate.validate(m, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{m['kind']}/{m['metadata']['name']}: {exc.message} at {list(exc.absolute_path)}")
        assert DNS1123.match(m["metadata"]["name"]) and len(m["metadata"]["name"]) <= 63


def test_names_are_unique(manifests: list[Manifest]) -> None:
    keys = [(m["kind"], m["metadata"]["name"]) for m in manifests]
    assert len(keys) == len(set(keys))


def test_service_monitors_by_structure(manifests: list[Manifest]) -> None:
    services = [m for m in manifests if m["kind"] == "Service"]
    monitors = [m for m in manifests if m["kind"] == "ServiceMonitor"]
    assert len(monitors) == 2
    for sm in monitors:
        assert sm["apiVersion"] == CRD_API and DNS1123.match(sm["metadata"]["name"])
        spec = sm["spec"]
        selected = [s for s in services
                    if spec["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
        assert len(selected) == 1, sm["metadata"]["name"]
        # The job label comes from the Service, and names the job the rules select by.
        job = selected[0]["metadata"]["labels"][spec["jobLabel"]]
        assert job in {"hopsharbor-connector", "hopsharbor-worker"}
        assert spec["namespaceSelector"]["matchNames"] == ["hops"]
        port_names = {p["name"] for p in selected[0]["spec"]["ports"]}
        for ep in spec["endpoints"]:
            assert ep["port"] in port_names and ep["path"] == "/metrics"
            assert re.fullmatch(r"\d+[smh]", ep["interval"])


def test_prometheus_rules_are_the_repository_rule_files(manifests: list[Manifest]) -> None:
    rules = [m for m in manifests if m["kind"] == "PrometheusRule"]
    # One object per deploy/prometheus/*.rules.yml, with the file's groups unchanged.
    assert sorted(r["metadata"]["annotations"]["hopsharbor.io/source"] for r in rules) == [
        p.name for p in RULE_FILES]
    for r in rules:
        assert r["apiVersion"] == CRD_API and DNS1123.match(r["metadata"]["name"])
        source = REPO / "deploy" / "prometheus" / r["metadata"]["annotations"]["hopsharbor.io/source"]
        assert r["spec"] == {"groups": yaml.safe_load(source.read_text())["groups"]}
        for group in r["spec"]["groups"]:
            assert group["name"] and group["rules"]
            for rule in group["rules"]:
                assert ("alert" in rule) != ("record" in rule) and rule["expr"]


def test_rules_select_the_jobs_the_service_monitors_produce(default_manifests: list[Manifest]) -> None:
    jobs = {s["metadata"]["labels"]["hopsharbor.io/job"] for s in default_manifests if s["kind"] == "Service"}
    exprs = " ".join(rule["expr"] for r in default_manifests if r["kind"] == "PrometheusRule"
                     for g in r["spec"]["groups"] for rule in g["rules"])
    for job in re.findall(r'job="([^"]+)"', exprs):
        assert job in jobs


def test_dashboards_as_configmaps(manifests: list[Manifest]) -> None:
    maps = [m for m in manifests if m["kind"] == "ConfigMap"
            and m["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert sorted(k for m in maps for k in m["data"]) == [p.name for p in DASHBOARDS]
    for m in maps:
        for name, text in m["data"].items():
            assert json.loads(text) == json.loads((REPO / "grafana" / "dashboards" / name).read_text())
            assert len(text.encode()) < 1024 * 1024  # ConfigMap limit


# --- workloads ------------------------------------------------------------------------------------

def test_connector_is_one_replica_recreated(manifests: list[Manifest]) -> None:
    connector = deployments(manifests)["connector"]
    assert connector["spec"]["replicas"] == 1
    assert connector["spec"]["strategy"] == {"type": "Recreate"}
    assert connector["spec"]["template"]["spec"]["containers"][0]["args"] == ["connector", "run"]


def test_workers_scale_in_one_consumer_group(default_manifests: list[Manifest],
                                             override_manifests: list[Manifest]) -> None:
    assert deployments(default_manifests)["worker"]["spec"]["replicas"] == 1
    worker = deployments(override_manifests)["worker"]
    assert worker["spec"]["replicas"] == 3
    assert worker["spec"]["strategy"]["type"] == "RollingUpdate"
    # All replicas share one pod template, hence one ConfigMap and one APP_ID (the consumer group).
    config = one(override_manifests, "ConfigMap", f"{RELEASE}-hopsharbor-worker")["data"]
    assert config["HOPSHARBOR_APP_ID"] == "hopsharbor-worker"
    assert config["HOPSHARBOR_TOPIC_PARTITIONS"] == "6"
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"configMapRef": {"name": f"{RELEASE}-hopsharbor-worker"}}]
    assert container["image"] == "registry.local/hopsharbor:1.2.3"


@pytest.mark.parametrize("component,port", [("connector", 9401), ("worker", 9402)])
def test_probes_on_the_health_endpoint(manifests: list[Manifest], component: str, port: int) -> None:
    deployment = deployments(manifests)[component]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}, probe
    # The process listens where the kubelet probes: the pod address, on that port.
    config = one(manifests, "ConfigMap", f"{RELEASE}-hopsharbor-{component}")["data"]
    assert config["HOPSHARBOR_METRICS_PORT"] == str(port)
    assert config["HOPSHARBOR_METRICS_HOST"] == "0.0.0.0"
    service = one(manifests, "Service", f"{RELEASE}-hopsharbor-{component}-metrics")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("component", ["connector", "worker"])
def test_non_root_read_only_with_resources(manifests: list[Manifest], component: str) -> None:
    pod = deployments(manifests)[component]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    # With a read-only root, the working directory must be a volume.
    assert "/var/lib/hopsharbor" in {v["mountPath"] for v in container["volumeMounts"]}


@pytest.mark.parametrize("component,secret_values,variables", [
    ("connector", ("mysqlPassword", "hopsharbor-mysql", "password"), ["HOPSHARBOR_MYSQL_PASSWORD_FILE"]),
    ("worker", ("harborPassword", "harbor-admin", "pw"),
     ["HOPSHARBOR_HARBOR_PASSWORD_FILE", "HOPSHARBOR_IMAGE_HARBOR_PASSWORD_FILE"]),
])
def test_passwords_only_as_mounted_secret_files(override_manifests: list[Manifest], component: str,
                                                secret_values: tuple[str, str, str],
                                                variables: list[str]) -> None:
    _, secret_name, key = secret_values
    pod = deployments(override_manifests)[component]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    for var in variables:
        path = Path(env[var]["value"])
        assert path.name == key
        mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == path.parent)
        assert mount["readOnly"] is True
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == secret_name
        assert volume["secret"]["items"] == [{"key": key, "path": key}]


def test_no_secret_value_anywhere(manifests: list[Manifest]) -> None:
    # The chart creates no Secret; it only refers to existing ones.
    assert not [m for m in manifests if m["kind"] == "Secret"]
    for d in deployments(manifests).values():
        pod = d["spec"]["template"]["spec"]
        for c in pod["containers"]:
            assert not [a for a in c.get("args", []) + c.get("command", []) if SECRET_WORD.search(a)]
            for e in c.get("env", []):
                if SECRET_WORD.search(e["name"]):
                    # Only file paths (or references), never a literal password.
                    assert e["name"].endswith("_FILE") or "valueFrom" in e, e
    for m in manifests:
        if m["kind"] == "ConfigMap" and "grafana_dashboard" not in m["metadata"]["labels"]:
            assert not [k for k in m["data"] if SECRET_WORD.search(k)], m["metadata"]["name"]
