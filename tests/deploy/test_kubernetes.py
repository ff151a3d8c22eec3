"""deploy/k8s: every manifest valid against the vendored Kubernetes schemas, replicas bounded by partitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.deploy.conftest import DEPLOY, SCHEMAS, load_yaml, load_yaml_all

K8S = DEPLOY / "k8s"
K8S_SCHEMAS = next((SCHEMAS / "kubernetes").iterdir())
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _schema_file(document: dict[str, Any]) -> Path:
    group, _, version = document["apiVersion"].rpartition("/")
    kind = document["kind"].lower()
    name = f"{kind}-{group.split('.')[0]}-{version}" if group else f"{kind}-{version}"
    path = K8S_SCHEMAS / f"{name}.json"
    assert path.exists(), (
        f"no vendored schema {path.name}: add the kind to tests/deploy/schemas/vendor.py"
    )
    return path


def _validator(document: dict[str, Any]) -> jsonschema.protocols.Validator:
    definitions = json.loads((K8S_SCHEMAS / "_definitions.json").read_text(encoding="utf-8"))
    registry = Registry().with_resource(
        "/api/_definitions.json",
        Resource.from_contents(definitions, default_specification=DRAFT202012),
    )
    schema = json.loads(_schema_file(document).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _documents() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, d) for p in MANIFESTS for d in load_yaml_all(p)]


@pytest.mark.parametrize(
    ("name", "document"), _documents(), ids=lambda v: v if isinstance(v, str) else v["kind"]
)
def test_manifest_is_valid_against_kubernetes_schema(name: str, document: dict[str, Any]) -> None:
    errors = list(_validator(document).iter_errors(document))
    assert not errors, "\n".join(f"{name} {list(e.absolute_path)}: {e.message}" for e in errors)


def test_schema_validation_catches_mistakes() -> None:
    deployment = load_yaml(K8S / "deployment.yaml")
    deployment["spec"]["replicas"] = "three"
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = (
        "/x"
    )
    messages = [e.message for e in _validator(deployment).iter_errors(deployment)]
    assert any("'three'" in m for m in messages)
    assert any("pathh" in m for m in messages)


def _partitions() -> int:
    return int(load_yaml(K8S / "configmap.yaml")["data"]["TOPIC_PARTITIONS"])


def test_replicas_are_bounded_by_partitions() -> None:
    deployment = load_yaml(K8S / "deployment.yaml")
    hpa = load_yaml(K8S / "hpa.yaml")
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= _partitions()
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_probes_use_the_health_endpoints_on_the_metrics_port() -> None:
    configmap = load_yaml(K8S / "configmap.yaml")["data"]
    container = load_yaml(K8S / "deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == int(configmap["METRICS_PORT"])
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_secret_comes_from_a_secret_and_settings_names_exist() -> None:
    from streams.settings import Settings

    container = load_yaml(K8S / "deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    # the password comes from a mounted Secret, the URL (configmap) names none
    password_file = Path(env["CLICKHOUSE_PASSWORD_FILE"]["value"])
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {
        v["name"]: v
        for v in load_yaml(K8S / "deployment.yaml")["spec"]["template"]["spec"]["volumes"]
    }
    secret_mounts = [n for n, v in volumes.items() if "secret" in v]
    assert any(
        password_file.parent == Path(mounts[n]["mountPath"])
        and password_file.name in {i["path"] for i in volumes[n]["secret"]["items"]}
        for n in secret_mounts
    )
    url = load_yaml(K8S / "configmap.yaml")["data"]["CLICKHOUSE_URL"]
    assert "@" in url and ":" not in url.split("://", 1)[1].split("@", 1)[0], (
        "no password in the URL"
    )
    fields = {name.upper() for name in Settings.model_fields}
    unknown = set(load_yaml(K8S / "configmap.yaml")["data"]) - fields
    assert not unknown, f"configmap sets variables no setting reads: {unknown}"
    assert not list(K8S.glob("*secret*")), "never commit a Secret manifest with values"


def test_selectors_match_pod_labels() -> None:
    deployment = load_yaml(K8S / "deployment.yaml")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for manifest in ("deployment.yaml", "pdb.yaml"):
        selector = load_yaml(K8S / manifest)["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), manifest
    assert load_yaml(K8S / "service.yaml")["spec"]["selector"].items() <= labels.items()


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)


def test_worker_does_not_migrate_with_the_writer_user() -> None:
    container = load_yaml(K8S / "deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["worker", "--no-migrate"]


def _web() -> dict[str, Any]:
    return {d["kind"] + "/" + d["metadata"]["name"]: d for d in load_yaml_all(K8S / "web.yaml")}


def test_the_pages_are_reached_only_through_the_authenticating_proxy() -> None:
    """supervise web listens on the pod's loopback and trusts the header only from there,
    i.e. from the oauth2-proxy container beside it: the pod's and the Service's only port
    is the proxy's; the proxy's secrets come from a Secret; no local demonstration mode."""
    from streams.settings import Settings

    web = _web()
    pod = web["Deployment/supervision-web"]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    proxy, pages = containers["auth-proxy"], containers["web"]
    assert "ports" not in pages and [p["name"] for p in proxy["ports"]] == ["http"]
    args = pages["args"]
    assert args[:1] == ["web"] and "--local" not in args
    assert args[args.index("--host") + 1] == "127.0.0.1"
    settings = web["ConfigMap/supervision-web"]["data"]
    assert settings["WEB_TRUSTED_PROXIES"] == "127.0.0.1"
    assert settings["WEB_USER_HEADER"] == "X-Forwarded-Preferred-Username"
    assert set(settings) <= {name.upper() for name in Settings.model_fields}
    proxied = web["ConfigMap/supervision-web-proxy"]["data"]
    assert (
        proxied["OAUTH2_PROXY_UPSTREAMS"] == f"http://127.0.0.1:{args[args.index('--port') + 1]}/"
    )
    assert proxied["OAUTH2_PROXY_PASS_USER_HEADERS"] == "true"
    assert proxied["OAUTH2_PROXY_SKIP_AUTH_STRIP_HEADERS"] == "true"
    assert not any("SECRET" in key for key in proxied)
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in proxy["env"]}
    assert set(secrets) == {"OAUTH2_PROXY_CLIENT_SECRET", "OAUTH2_PROXY_COOKIE_SECRET"}
    service = web["Service/supervision-web"]["spec"]
    assert [p["targetPort"] for p in service["ports"]] == ["http"]
    labels = web["Deployment/supervision-web"]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()


def test_the_worker_and_the_pages_read_one_configuration() -> None:
    worker = load_yaml(K8S / "deployment.yaml")["spec"]["template"]["spec"]
    pages = _web()["Deployment/supervision-web"]["spec"]["template"]["spec"]

    def config(pod: dict[str, Any], container: str) -> tuple[str, str, str]:
        [c] = [c for c in pod["containers"] if c["name"] == container]
        path = {e["name"]: e.get("value") for e in c["env"]}["SUPERVISION_CONFIG"]
        [mount] = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        return path, mount["mountPath"], volume["configMap"]["name"]

    assert config(worker, "worker") == config(pages, "web")
