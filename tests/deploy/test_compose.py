"""deploy/docker-compose.yml: valid against the Compose Specification and runnable as documented."""

from __future__ import annotations

import json
import re

import jsonschema

from tests.deploy.conftest import DEPLOY, SCHEMAS, load_yaml

COMPOSE = load_yaml(DEPLOY / "docker-compose.yml")
SERVICES = COMPOSE["services"]


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(
        validator_class(schema).iter_errors(COMPOSE), key=lambda e: list(e.absolute_path)
    )
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_stack_has_every_component() -> None:
    assert {
        "kafka",
        "clickhouse",
        "migrate",
        "clickhouse-access",
        "worker",
        "prometheus",
        "grafana",
        "web",
        "web-proxy",
    } <= set(SERVICES)
    assert (
        SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    )  # KRaft, no ZooKeeper
    assert "zookeeper" not in SERVICES
    # Installed before Grafana starts, at the version the dashboards are written for.
    plugin = SERVICES["grafana"]["environment"]["GF_PLUGINS_PREINSTALL_SYNC"]
    name, version = plugin.split("@")[:2]
    assert name == "grafana-clickhouse-datasource"
    written_for = {
        target["pluginVersion"]
        for board in (DEPLOY / "grafana" / "dashboards").glob("*.json")
        for panel in json.loads(board.read_text(encoding="utf-8"))["panels"]
        for target in panel["targets"]
        if target["datasource"]["type"] == name
    }
    assert written_for == {version}, (written_for, version)
    grafana_needs = SERVICES["grafana"]["depends_on"]
    assert grafana_needs["clickhouse-access"]["condition"] == "service_completed_successfully"


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        image = service.get("image", "")
        if "build" in service:
            continue
        assert ":" in image and not image.endswith(":latest"), (
            f"{name}: pin the image tag ({image})"
        )
    major, minor = SERVICES["clickhouse"]["image"].rsplit(":", 1)[1].split(".")[:2]
    assert minor in {"3", "8"}, "ClickHouse LTS releases are YY.3 and YY.8"


def test_worker_can_be_scaled() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker, "a fixed container name prevents --scale"
    assert "ports" not in worker, "a published host port prevents --scale"
    assert worker["deploy"]["replicas"] >= 1
    assert not any(str(v).startswith("worker-data") for v in worker.get("volumes", [])), (
        "replicas must not share a Faust state volume"
    )


def test_dependencies_and_volumes_exist() -> None:
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name} uses undeclared volume {source}"
    assert (
        SERVICES["worker"]["depends_on"]["clickhouse-access"]["condition"]
        == "service_completed_successfully"
    )


def test_no_secret_is_written_in_the_file() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    for key, value in re.findall(r"^\s*(\w*(?:PASSWORD|SECRET)\w*):\s*(\S+)", text, re.MULTILINE):
        assert value.startswith("${") and ":?" in value, (
            f"{key} must come from deploy/.env (got {value})"
        )
    for url in re.findall(r"clickhouse://\S+", text):
        assert re.match(r"clickhouse://\w+@", url), f"no password in a URL: {url}"


def test_every_variable_is_documented_in_env_example() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(\w+)", text))
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^(\w+)=", example, re.MULTILINE))
    assert used <= documented, f"add to deploy/.env.example: {sorted(used - documented)}"
    # A copied example must not start a stack: every password is empty, and compose
    # refuses an empty ${VAR:?} as it refuses an unset one.
    passwords = re.findall(r"^(\w*(?:PASSWORD|SECRET)\w*)=(.*)$", example, re.MULTILINE)
    assert passwords and all(value == "" for _, value in passwords), passwords


def test_worker_port_matches_prometheus_scrape_and_settings() -> None:
    from streams.settings import Settings

    prometheus = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "supervision-worker")
    port = job["dns_sd_configs"][0]["port"]
    assert job["dns_sd_configs"][0]["names"] == ["worker"]
    assert SERVICES["worker"]["environment"]["METRICS_PORT"] == str(port)
    assert Settings().metrics_port == port
    assert str(port) in SERVICES["worker"]["expose"]


def test_worker_runs_as_the_writer_and_leaves_migrations_to_the_admin() -> None:
    worker = SERVICES["worker"]
    assert worker["command"] == ["worker", "--no-migrate"]
    assert worker["environment"]["CLICKHOUSE_URL"].startswith("clickhouse://supervision_writer@")
    assert worker["environment"]["CLICKHOUSE_PASSWORD"] == (
        "${CLICKHOUSE_WRITER_PASSWORD:?set in deploy/.env}"
    )
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["db", "migrate"]
    assert migrate["environment"]["CLICKHOUSE_URL"].startswith("clickhouse://admin@")
    assert migrate["environment"]["CLICKHOUSE_PASSWORD"].startswith("${CLICKHOUSE_ADMIN_PASSWORD:?")


def test_commands_of_the_stack_exist_in_the_cli() -> None:
    """Every command compose and the image run is a real `supervise` command (its --help works)."""
    import subprocess
    import sys

    commands = {tuple(SERVICES[name]["command"]) for name in ("worker", "migrate", "web")}
    for command in commands:
        options = [c for c in command if c.startswith("--")]
        words = [c for c in command if not c.startswith("--")]
        result = subprocess.run(
            [sys.executable, "-c", "from streams.cli import main; main()", *words, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"supervise {' '.join(words)}: {result.stderr}"
        for option in options:
            assert option in result.stdout, f"supervise {' '.join(words)} has no {option}"


def test_the_pages_are_reached_only_through_the_authenticating_proxy() -> None:
    """web publishes no port and trusts the identity header only from web-proxy's fixed
    address, which lies in the network they share; the proxy forwards to web's port and
    sets the header web reads; the local demonstration mode is never used."""
    import ipaddress

    web, proxy = SERVICES["web"], SERVICES["web-proxy"]
    assert "ports" not in web, "the pages must not be reachable around the proxy"
    assert "--local" not in web["command"]
    assert not re.search(r"--local\b", (DEPLOY / "docker-compose.yml").read_text("utf-8"))
    # on "web" only: were it on another network with web too, it could reach web from
    # an address web does not trust
    assert list(proxy["networks"]) == ["web"]
    address = proxy["networks"]["web"]["ipv4_address"]
    assert web["environment"]["WEB_TRUSTED_PROXIES"] == address
    [subnet] = COMPOSE["networks"]["web"]["ipam"]["config"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet["subnet"])
    assert "web" in web["networks"]
    port = web["command"][web["command"].index("--port") + 1]
    assert proxy["environment"]["OAUTH2_PROXY_UPSTREAMS"] == f"http://web:{port}/"
    assert web["expose"] == [port]
    # oauth2-proxy passes the signed-in user as X-Forwarded-Preferred-Username and strips
    # a client's own X-Forwarded-* headers
    assert web["environment"]["WEB_USER_HEADER"] == "X-Forwarded-Preferred-Username"
    assert proxy["environment"]["OAUTH2_PROXY_PASS_USER_HEADERS"] == "true"
    assert proxy["environment"]["OAUTH2_PROXY_SKIP_AUTH_STRIP_HEADERS"] == "true"
    assert all(p.startswith("127.0.0.1:") for p in proxy["ports"])


def test_the_worker_and_the_pages_read_one_configuration() -> None:
    """The users file the pages identify people by is the one the worker decides by."""
    worker, web = SERVICES["worker"], SERVICES["web"]
    assert worker["environment"]["SUPERVISION_CONFIG"] == web["environment"]["SUPERVISION_CONFIG"]
    assert worker["volumes"] == web["volumes"] == ["./config:/etc/supervision:ro"]
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    default = re.search(r"^SUPERVISION_CONFIG_FILE=(\S+)$", example, re.MULTILINE)
    assert default is not None and (DEPLOY / "config" / default.group(1)).exists()
