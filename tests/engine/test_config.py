import pytest

from streams.engine import ConfigError, load_config
from streams.engine.config import RULES
from tests.engine.harness import config_with


def test_default_configuration_has_every_template_and_rule() -> None:
    config = load_config()
    assert set(config.templates) == {
        "approval",
        "leader_assignment",
        "complaint",
        "penalty",
        "fund_disbursement",
        "tender",
        "inspection_plan",
        "inspection",
        "key_task",
        "proposal",
        "meeting_item",
    }
    assert config.enabled == frozenset(RULES)
    assert config.red_after_working_days == 3
    assert config.version.startswith("cfg-")


def test_version_is_a_content_hash(tmp_path) -> None:
    same = config_with(tmp_path, {"# Supervision configuration": "# A comment changes nothing"})
    assert same.version == load_config().version
    changed = config_with(tmp_path, {"min_bidders = 3": "min_bidders = 4"})
    assert changed.version != load_config().version
    assert changed.param("TOO_FEW_BIDS", "min_bidders") == 4


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ({"[rules.OVERDUE]": "[rules.OVERDUES]"}, "unknown rules"),
        ({"min_bidders = 3": "min_bidders = 'three'"}, "rules.TOO_FEW_BIDS.min_bidders"),
        (
            {"red_after_working_days = 3": "red_after_working_days = 0"},
            "overdue.red_after_working_days",
        ),
        ({'max_ratio = "1.10"': 'max_ratio = "abc"'}, "max_ratio"),
        ({'zone = "Asia/Shanghai"': 'zone = "Mars/Olympus"'}, "unknown time zone"),
        (
            {
                '{ action = "review", requires = ["accept"] }': '{ action = "review", requires = ["acept"] }'
            },
            "not in this template's actions",
        ),
        ({"month_days = [[1, 5]]": "month_days = [[5, 1]]"}, "day range"),
        (
            {
                "window_hours = 720\nmin_count = 3": "window_hours = 720\nmin_count = 3\nmin_bidders = 2"
            },
            "do not apply",
        ),
        ({"[time]": "[tiem]"}, "tiem"),
    ],
)
def test_invalid_configuration_names_the_key(
    tmp_path, replace: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        config_with(tmp_path, replace)


def test_unreadable_and_malformed_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[time\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_rules_can_be_disabled(tmp_path) -> None:
    config = config_with(
        tmp_path, {"[rules.TOO_FEW_BIDS]\nenabled = true": "[rules.TOO_FEW_BIDS]\nenabled = false"}
    )
    assert not config.rule_on("TOO_FEW_BIDS")
    assert config.rule_on("OVERDUE")
