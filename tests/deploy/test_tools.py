"""Dockerfile lint (hadolint) and Prometheus rules (promtool): the tools run, nothing is skipped."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from streams.observability.metrics import REGISTRY
from tests.deploy.conftest import DEPLOY, REPO, load_yaml, tool

PROMETHEUS = DEPLOY / "prometheus"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_dockerfile_passes_hadolint() -> None:
    result = run(tool("hadolint"), "--failure-threshold", "info", str(DEPLOY / "Dockerfile"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_the_worker_as_non_root_on_the_metrics_port() -> None:
    from streams.settings import Settings

    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^USER 10001$", text, re.MULTILINE)
    assert re.search(rf"^EXPOSE {Settings().metrics_port}$", text, re.MULTILINE)
    assert "/healthz" in text
    assert 'CMD ["worker"]' in text


def test_prometheus_config_is_valid() -> None:
    result = run(tool("promtool"), "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_kubernetes_prometheus_config_is_valid(tmp_path: Path) -> None:
    """Debian's promtool is built without Kubernetes discovery: the discovery block is checked
    for shape here, everything else (relabelling, rules) by promtool with static targets."""
    import yaml

    config = load_yaml(PROMETHEUS / "prometheus-kubernetes.yml")
    [job] = config["scrape_configs"]
    assert job["job_name"] == "supervision-worker"  # what the rules and dashboards select
    [sd] = job.pop("kubernetes_sd_configs")
    assert sd == {"role": "pod", "namespaces": {"names": ["supervision"]}}
    job["static_configs"] = [{"targets": ["worker:8000"]}]
    config["rule_files"] = [str(PROMETHEUS / "rules" / "*.yml")]
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = run(tool("promtool"), "check", "config", str(checked))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_kubernetes_scrape_job_keeps_the_worker_pods_on_their_metrics_port() -> None:
    job = load_yaml(PROMETHEUS / "prometheus-kubernetes.yml")["scrape_configs"][0]
    keeps = {
        r["source_labels"][0]: r["regex"]
        for r in job["relabel_configs"]
        if r.get("action") == "keep"
    }
    pod = load_yaml(DEPLOY / "k8s" / "deployment.yaml")["spec"]["template"]
    assert (
        keeps["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
        == pod["metadata"]["labels"]["app.kubernetes.io/name"]
    )
    ports = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert keeps["__meta_kubernetes_pod_container_port_name"] in ports


def test_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    promtool = tool("promtool")
    checked = run(
        promtool, "check", "rules", *map(str, sorted((PROMETHEUS / "rules").glob("*.yml")))
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run(promtool, "test", "rules", *map(str, sorted((PROMETHEUS / "tests").glob("*.yml"))))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_required_alerts_exist_and_every_alert_is_unit_tested() -> None:
    alerts = {
        rule["alert"]
        for path in (PROMETHEUS / "rules").glob("*.yml")
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert {
        "SupervisionWorkerStalled",
        "SupervisionConsumerLagGrowing",
        "SupervisionStorageFailing",
        "SupervisionDeadLetterSurge",
    } <= alerts
    tested = {
        case["alertname"]
        for path in (PROMETHEUS / "tests").glob("*.yml")
        for test in load_yaml(path)["tests"]
        for case in test.get("alert_rule_test", [])
    }
    assert alerts - {"SupervisionWorkerNotReady", "SupervisionStorageNoSuccessfulWrite"} <= tested


def exposed_metric_names() -> set[str]:
    """Every sample name the worker's registry can expose (labelled metrics included)."""
    return set(REGISTRY._names_to_collectors)


def test_rules_only_use_metrics_the_worker_exposes() -> None:
    exposed = exposed_metric_names()
    used = set()
    for path in (PROMETHEUS / "rules").glob("*.yml"):
        used |= set(re.findall(r"\bsupervision_[a-z_]+", path.read_text(encoding="utf-8")))
    assert used, "no supervision metric found in the rules"
    assert used <= exposed, f"rules use metrics nobody exposes: {sorted(used - exposed)}"


def test_image_layout_finds_migrations_and_schemas(tmp_path: Path) -> None:
    """Rebuild the image's /app from the Dockerfile's COPY lines and import the worker from it."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    runtime = text.split("\nFROM ", 2)[2]  # the final stage
    app = tmp_path / "app"
    # the build stage's /src holds the repository's files (compiled in place there)
    for source, target in re.findall(
        r"^COPY (?:--from=build /src/)?(\S+) (\S+)$", runtime, re.MULTILINE
    ):
        shutil.copytree(REPO / source, app / target.removeprefix("./"))
    env_block = re.search(r"^ENV (.*?)(?=^\S)", runtime, re.MULTILINE | re.DOTALL)
    assert env_block, "no ENV in the runtime stage"
    env = dict(re.findall(r"(\w+)=(\S+)", env_block.group(1)))
    assert env["PYTHONPATH"] == "/app"
    probe = (
        "from streams.storage.migrations import MIGRATIONS_DIR; from streams.settings import Settings; "
        "import streams; print(streams.__file__); print(MIGRATIONS_DIR); print(Settings().schemas_dir)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(app),
            "SCHEMAS_DIR": str(app / "schemas"),
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    package, migrations, schemas = (Path(line) for line in result.stdout.splitlines())
    assert package.is_relative_to(app)
    assert migrations == app / "schemas" / "clickhouse" and any(migrations.glob("*.sql"))
    assert schemas == app / "schemas"


def test_image_runs_the_compiled_engine() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    build, runtime = text.split("\nFROM ", 2)[1:]
    assert "scripts/build_native.py --strict" in build
    assert re.search(r"^COPY --from=build /src/streams \./streams$", runtime, re.MULTILINE)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    assert "streams/**/*.so" in ignore  # never the build machine's compiled modules


def test_constraints_pin_every_runtime_dependency_within_its_range() -> None:
    import tomllib

    from packaging.requirements import Requirement

    pins = {}
    for line in (DEPLOY / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for text in project["dependencies"]:
        req = Requirement(text)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{name} is not pinned: run scripts/lock_constraints.py"
        assert req.specifier.contains(pins[name], prereleases=True), (name, pins[name])
    assert "mypy" in pins  # the image compiles the engine with the tested mypyc
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.count("-c constraints.txt") == 2
    assert "-c deploy/constraints.txt" in (REPO / "Makefile").read_text(encoding="utf-8")
