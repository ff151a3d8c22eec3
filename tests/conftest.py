"""Shared test wiring: each service's fixtures live in its own plugin module."""

pytest_plugins = [
    "tests.fixtures_clickhouse",
    "tests.fixtures_kafka",
]
