"""The server's password: in the URL, or from CLICKHOUSE_PASSWORD(_FILE); never in an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings, clickhouse_password
from streams.storage.backends import open_backend
from streams.storage.backends.server import ServerAddress
from tests.fixtures_clickhouse import ClickHouseServer


def test_password_in_the_url_is_percent_decoded() -> None:
    address = ServerAddress.parse("clickhouse://writer:a%2Fb%40c@ch:9001/supervision")
    assert (address.user, address.password, address.host, address.port) == (
        "writer",
        "a/b@c",
        "ch",
        9001,
    )
    assert "a/b@c" not in repr(address)


def test_a_given_password_replaces_the_urls() -> None:
    address = ServerAddress.parse("clickhouse://writer@ch/supervision", "p/w#?@:")
    assert address.password == "p/w#?@:" and address.database == "supervision"


def test_an_unparsable_url_is_refused_without_quoting_it() -> None:
    with pytest.raises(ValueError) as caught:
        ServerAddress.parse("clickhouse://writer:Xy7/Secret@ch:9000/supervision")
    assert "Secret" not in str(caught.value)
    assert "CLICKHOUSE_PASSWORD_FILE" in str(caught.value)


def test_password_file_wins_and_loses_its_line_break(tmp_path: Path) -> None:
    secret = tmp_path / "writer.pw"
    secret.write_text("from-file\n", encoding="utf-8")
    settings = Settings(clickhouse_password="from-env", clickhouse_password_file=secret)
    assert clickhouse_password(settings) == "from-file"
    assert clickhouse_password(Settings(clickhouse_password="from-env")) == "from-env"
    assert clickhouse_password(Settings()) is None
    with pytest.raises(ValueError, match="cannot be read"):
        clickhouse_password(Settings(clickhouse_password_file=tmp_path / "missing"))


def test_server_is_reached_with_the_password_from_the_file(
    clickhouse_server: ClickHouseServer, tmp_path: Path
) -> None:
    # The URL's password is wrong; the file holds the right one (the test server's default
    # user has an empty password), so connecting proves the file was used.
    url = clickhouse_server.url("default").replace("://", "://default:wrong@")
    assert ":wrong@" in url
    secret = tmp_path / "pw"
    secret.write_text("\n", encoding="utf-8")
    backend = open_backend(Settings(clickhouse_url=url, clickhouse_password_file=secret))
    try:
        assert backend.query("SELECT 1").rows == [(1,)]
    finally:
        backend.close()
