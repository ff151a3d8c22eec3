"""Every setting of the product, in one typed object read from the environment.

Secrets are never printed: ``CLICKHOUSE_URL`` (it may hold a password) and the
passwords are ``SecretStr`` (``repr`` shows ``**********``), log records pass through
``streams.privacy.mask_text``, and ``CLICKHOUSE_PASSWORD_FILE`` keeps the password out
of the environment.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.storage.backends.chdb import SETTINGS as CHDB_SETTINGS

REPO_ROOT = Path(__file__).resolve().parent.parent


class _Frozen(BaseSettings):
    # Frozen: built once at start (``get_settings``) and shared; nothing changes it after.
    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", case_sensitive=False, frozen=True
    )


class WebSettings(_Frozen):
    """The settings of ``supervise web`` (identity from the proxy, actions, pushed updates)."""

    web_user_header: str = Field(
        default="X-Remote-User",
        description="supervise web: the header an authenticating reverse proxy sets to the "
        "user id (a user of the users file); accepted only from WEB_TRUSTED_PROXIES.",
    )
    web_trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        description="supervise web: comma-separated addresses whose WEB_USER_HEADER is "
        "trusted; a request from elsewhere has no identity.",
    )
    web_action_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="supervise web: seconds to wait for an action's result from the worker, "
        "beyond UPSTREAM_DELAY (the worker applies an action once its input is past acted_at).",
    )
    web_push_interval_s: float = Field(
        default=2.0,
        gt=0,
        le=300,
        description="supervise web: seconds between the reads of the one watcher that pushes "
        "inbox updates to every open inbox page (only while a page listens).",
    )


class StorageSettings(_Frozen):
    """Where and how events and alerts are stored (a ClickHouse server, or embedded chdb)."""

    # --- ClickHouse ----------------------------------------------------------
    clickhouse_url: SecretStr | None = Field(
        default=None,
        description="clickhouse://user:password@host:9000/database; unset = embedded chdb in CHDB_PATH.",
    )
    clickhouse_password: SecretStr | None = Field(
        default=None,
        description="Password of the CLICKHOUSE_URL user, instead of one inside the URL (no "
        "percent-encoding needed).",
    )
    clickhouse_password_file: Path | None = Field(
        default=None,
        description="File holding that password (a Docker or Kubernetes secret); wins over "
        "CLICKHOUSE_PASSWORD and the URL.",
    )
    chdb_path: Path = Field(
        default=REPO_ROOT / "var" / "chdb", description="Data directory of embedded chdb."
    )
    chdb_settings: str = Field(
        default=CHDB_SETTINGS,
        description="Engine settings of embedded chdb, name=value&... (its connection string's "
        "parameters; README: Storage memory); empty = chdb's defaults.",
    )
    clickhouse_batch_rows: int = Field(
        default=5000, ge=1, description="Rows per insert batch of the storage writer."
    )
    clickhouse_retry_initial_s: float = Field(
        default=0.2,
        gt=0,
        description="First retry delay while ClickHouse is unreachable (doubles).",
    )
    clickhouse_retry_max_s: float = Field(
        default=10.0, gt=0, description="Longest retry delay while ClickHouse is unreachable."
    )
    clickhouse_max_wait_s: float | None = Field(
        default=None,
        description="Give up a write after this long unreachable (StorageUnavailable); unset = retry until stored.",
    )
    clickhouse_connect_timeout_s: float = Field(
        default=5.0, gt=0, description="Connect timeout to the ClickHouse server (seconds)."
    )


class Settings(WebSettings, StorageSettings):
    """Every setting: the web's (``WebSettings``), storage's (``StorageSettings``) and those of
    the worker and the CLI."""

    # --- rules -------------------------------------------------------------
    supervision_config: Path | None = Field(
        default=None,
        description="Path of the supervision configuration file (TOML); default: the built-in one.",
    )
    shadow_configs: str = Field(
        default="",
        description="Candidate configuration files (TOML), comma separated, evaluated beside the active one; their alerts go to the shadow_alerts table only (README: Shadow configurations).",
    )
    schemas_dir: Path = Field(
        default=REPO_ROOT / "schemas", description="JSON Schemas of events and alerts."
    )

    # --- Kafka -------------------------------------------------------------
    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )

    # --- observability (metrics and health endpoint) -------------------------
    metrics_host: str = Field(
        default="0.0.0.0", description="Address the /metrics, /healthz, /readyz server binds."
    )
    metrics_port: int = Field(
        default=8000, description="Port of the /metrics, /healthz, /readyz server."
    )
    health_max_timer_lag_seconds: float = Field(
        default=300.0,
        description="Readiness fails while the oldest due timed alert is later than this behind its instant.",
    )
    health_liveness_timeout_seconds: float = Field(
        default=120.0,
        description="Liveness fails when the event loop, or the worker's ticks while the broker and "
        "storage are up, have not beaten for this long.",
    )
    health_probe_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="Period of the health probe: asks the broker for metadata, pings the storage "
        "when no write reported on it meanwhile.",
    )
    health_probe_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A broker metadata request or storage ping taking longer counts as disconnected.",
    )

    # --- live service (streams/live) -----------------------------------------
    topic_approval: str = Field(
        default="supervision.approval",
        description="Topic of approval, leader_assignment, complaint, penalty events.",
    )
    topic_fund: str = Field(
        default="supervision.fund", description="Topic of fund_disbursement events."
    )
    topic_trade: str = Field(default="supervision.trade", description="Topic of tender events.")
    topic_inspection: str = Field(
        default="supervision.inspection",
        description="Topic of inspection_plan and inspection events.",
    )
    topic_alerts: str = Field(
        default="supervision.alerts", description="Topic the live service publishes alerts to."
    )
    topic_deadletter: str = Field(
        default="supervision.deadletter", description="Topic of rejected input."
    )
    topic_facts: str = Field(
        default="supervision.facts",
        description="Internal topic routing cross-case facts (and source watermarks) to their owner.",
    )
    topic_actions: str = Field(
        default="supervision.actions",
        description="Topic of 督办 workflow actions (keyed by case_id; schemas/action.schema.json).",
    )
    topic_action_results: str = Field(
        default="supervision.action-results",
        description="Topic of the results of workflow actions (keyed by action_id).",
    )
    topic_workflow: str = "supervision.workflow"  # internal: a workflow's inputs, by case_id
    topic_partitions: int = Field(
        default=4,
        ge=1,
        description="Partitions of every supervision topic (all must be equal: co-partitioned).",
    )
    topic_replication: int = Field(
        default=1, ge=1, description="Replication factor used when the live service creates topics."
    )
    worker_group_id: str = Field(
        default="supervision-live",
        description="Kafka consumer group / Faust app id of the workers.",
    )
    worker_data_dir: Path = Field(
        default=REPO_ROOT / "var" / "faust", description="Faust data directory of the worker."
    )
    worker_table_store: str = Field(
        default="rocksdb",
        pattern="^(rocksdb|memory)$",
        description="Local store of the engine-state tables: 'rocksdb' (on disk under "
        "WORKER_DATA_DIR/tables-{WORKER_GROUP_ID}: a restart reads only the changelog written "
        "since; keep the directory on a persistent volume) or 'memory' (rebuilt from the whole "
        "changelog on every start and rebalance).",
    )
    worker_batch_max: int = Field(
        default=5000,
        ge=1,
        description="Events taken from a stream per processed batch (a backlog fills them; "
        "each batch is one insert per table).",
    )
    worker_batch_within_s: float = Field(
        default=0.2, gt=0, description="Longest wait for a batch to fill before it is processed."
    )
    worker_recovery_stall_s: float = Field(
        default=30.0,
        gt=0,
        description="A table recovery that reads nothing for this long re-reads its changelog "
        "partition; after 3 such re-reads the worker stops (a restart rebuilds its tables).",
    )
    worker_fetch_max_wait_ms: int = Field(
        default=100,
        ge=1,
        le=30_000,
        description=(
            "Longest time the broker may hold a fetch that has no data yet (Faust fixes 1500 ms; "
            "brokers that hold a fetch to its limit then deliver events that much later)."
        ),
    )
    worker_tick_s: float = Field(
        default=0.5,
        gt=0,
        description="Period of the timer/watermark tick (timed alerts, facts release).",
    )
    upstream_delay: timedelta = Field(
        default=timedelta(minutes=10),
        gt=timedelta(0),
        description="rules.md §1.4: a caught-up partition of a topic without configured sources "
        "counts as consumed up to wall clock minus this (cards are at most this much later than "
        "their instants); a partition whose broker has not answered for this long does not "
        "advance. Seconds or an ISO 8601 duration (PT10M).",
    )
    topic_approval_sources: str = Field(
        default="",
        description="Upstream sources that publish progress markers to TOPIC_APPROVAL, comma "
        "separated: its partitions advance only to their minimum watermark (rules.md §1.4).",
    )
    topic_fund_sources: str = Field(default="", description="The same for TOPIC_FUND.")
    topic_trade_sources: str = Field(default="", description="The same for TOPIC_TRADE.")
    topic_inspection_sources: str = Field(default="", description="The same for TOPIC_INSPECTION.")
    deadletter_window: int = Field(
        default=1000,
        ge=1,
        description="Rejection-rate limit: number of recent messages the ratio is measured over.",
    )
    deadletter_max_ratio: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Rejection-rate limit: the worker stops when more than this share of the window was rejected.",
    )
    deadletter_max_consecutive: int = Field(
        default=200,
        ge=1,
        description="Rejection-rate limit: the worker stops after this many rejections in a row.",
    )
    store_retry_initial_s: float = Field(
        default=0.5,
        gt=0,
        description="First back-off when ClickHouse (or Kafka) refuses a write; doubles up to the max.",
    )
    store_retry_max_s: float = Field(
        default=10.0,
        gt=0,
        description="Longest back-off between write retries (retries never stop: nothing is dropped).",
    )
    live_echo_alerts: bool = Field(
        default=False, description="Print every stored alert on stdout (the demo's live view)."
    )
    worker_session_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Kafka group session timeout: how soon a killed worker's partitions move to another.",
    )
    worker_rebalance_timeout_s: float = Field(
        default=20.0, gt=0, description="Kafka group rebalance timeout."
    )
    worker_heartbeat_s: float = Field(
        default=1.0, gt=0, description="Kafka group heartbeat interval."
    )
    watermark_lateness_s: float = Field(
        default=5.0,
        ge=0,
        description="Events of different cases may arrive on a partition up to this much later (event time) than newer ones; timed alerts of a partition wait for it.",
    )
    watermark_idle: str = Field(
        default="wallclock",
        pattern="^(wallclock|stream)$",
        description="What a caught-up partition counts as consumed up to: 'wallclock' (now - UPSTREAM_DELAY: real-time upstreams, production) or 'stream' (no further than the newest event time this worker has read, minus lateness: history replayed through the live service without progress markers). Topics with configured sources follow their markers in both.",
    )

    @field_validator("upstream_delay", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        """``UPSTREAM_DELAY=600`` or ``=0.5``: seconds (pydantic reads only some numbers)."""
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value  # an ISO 8601 duration (PT10M)
        return value


def clickhouse_password(settings: Settings) -> str | None:
    """The server password from CLICKHOUSE_PASSWORD_FILE or CLICKHOUSE_PASSWORD; None: the URL's."""
    path = settings.clickhouse_password_file
    if path is not None:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValueError(
                f"CLICKHOUSE_PASSWORD_FILE {path} cannot be read: {exc.strerror}"
            ) from None
    secret = settings.clickhouse_password
    return None if secret is None else secret.get_secret_value()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
