"""The [workflow] table and the users file: validated at load, errors name the key; the table
is part of the configuration's version (left out at its defaults)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.engine import ConfigError, load_config
from tests.workflow.harness import config_with_users

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_at_its_defaults_keeps_the_version_and_a_change_makes_a_new_one(
    tmp_path: Path,
) -> None:
    default = load_config()
    assert default.workflow.reply_working_days == 10 and default.users == {}
    same = config_with_users(tmp_path)  # a users file is identity, not supervision rules
    assert same.version == default.version and "A-01" in same.users
    changed = config_with_users(tmp_path, reply_working_days=5)
    assert changed.version != default.version and changed.workflow.reply_working_days == 5


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ({"reply_working_days": 0}, "workflow.reply_working_days"),
        ({"triage_red_working_days": 5}, "triage_red_working_days (5) must be more than"),
        ({"triage_levels": ["orange"]}, "workflow.triage_levels.0"),
        ({"office_dept": ""}, "workflow.office_dept"),
    ],
)
def test_a_bad_workflow_setting_names_its_key(tmp_path: Path, override, names) -> None:
    with pytest.raises(ConfigError, match=names.replace("(", r"\(").replace(")", r"\)")):
        config_with_users(tmp_path, **override)


@pytest.mark.parametrize(
    ("users", "names"),
    [
        ('[users.I-01]\nname = "x"\nrole = "boss"\n', "users.I-01.role"),
        (
            '[users.I-01]\nname = "x"\nrole = "inspector"\n',
            "users.I-01: Value error, a user with role 'inspector' needs",
        ),
        ('[users.system]\nname = "x"\nrole = "admin"\n', "reserved for the engine"),
        ('[users.I-01]\nname = "x"\nrole = "approver"\nphone = "1"\n', "users.I-01.phone"),
        ("[users.I-01\n", "is not valid TOML"),
    ],
)
def test_a_bad_users_file_names_the_key(tmp_path: Path, users: str, names: str) -> None:
    path = tmp_path / "bad-users.toml"
    path.write_text(users, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config_with_users(tmp_path, users=path)
    assert "workflow.users_file" in str(caught.value) and names in str(caught.value)


def test_a_missing_users_file_is_an_error(tmp_path: Path) -> None:
    config_with_users(tmp_path)
    (tmp_path / "users.toml").unlink()
    with pytest.raises(ConfigError, match="cannot read users file"):
        load_config(tmp_path / "supervision.toml")


def test_the_example_users_file_loads(tmp_path: Path) -> None:
    config = config_with_users(tmp_path, users=ROOT / "deploy" / "config" / "users.example.toml")
    roles = {u.role for u in config.users.values()}
    assert roles == {"inspector", "approver", "department", "auditor"}
    assert config.users["A-01"].covers("SCJ") and not config.users["DEP-SCJ"].covers("ZJJ")
