from datetime import date

import pytest

from streams.engine import CalendarYearMissing, ConfigError, load_config
from streams.engine.calendar import CalendarError, WorkCalendar, load_calendar_file

CAL = load_config().calendar


def d(text: str) -> int:
    return date.fromisoformat(text).toordinal()


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        ("2026-03-02", 3, "2026-03-05"),  # plain week
        ("2026-03-06", 2, "2026-03-10"),  # over a weekend
        ("2026-02-12", 1, "2026-02-13"),
        ("2026-02-13", 1, "2026-02-14"),  # Saturday 02-14 is an adjusted working day
        ("2026-02-13", 2, "2026-02-24"),  # Spring Festival 02-15..02-23
        ("2026-02-26", 2, "2026-02-28"),  # Saturday 02-28 is an adjusted working day
        ("2026-09-30", 1, "2026-10-08"),  # National Day 10-01..10-07
        ("2026-09-30", 3, "2026-10-10"),  # Saturday 10-10 is an adjusted working day
        ("2026-04-03", 1, "2026-04-07"),  # Qingming 04-04..04-06
        ("2026-10-01", 1, "2026-10-08"),  # from inside a holiday
        ("2026-12-30", 1, "2026-12-31"),
    ],
)
def test_wd_after(day: str, n: int, expected: str) -> None:
    assert CAL.wd_after(d(day), n) == d(expected)


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        ("2026-02-14", True),
        ("2026-02-16", False),
        ("2026-03-07", False),
        ("2026-10-10", True),
        ("2026-10-05", False),
    ],
)
def test_is_workday(day: str, workday: bool) -> None:
    assert CAL.is_workday(d(day)) is workday


def test_count_workdays_half_open() -> None:
    assert CAL.count_workdays(d("2026-06-03"), d("2026-06-05")) == 2
    assert CAL.count_workdays(d("2026-09-30"), d("2026-10-09")) == 2  # 09-30, 10-08
    assert CAL.count_workdays(d("2026-06-05"), d("2026-06-05")) == 0


def test_year_without_data_is_an_error_naming_the_year() -> None:
    with pytest.raises(CalendarYearMissing, match="2027"):
        CAL.wd_after(d("2026-12-30"), 5)
    with pytest.raises(CalendarYearMissing, match="2003"):
        CAL.is_workday(d("2003-05-01"))
    with pytest.raises(CalendarYearMissing, match="2027"):
        CAL.count_workdays(d("2026-12-30"), d("2027-01-05"))


CAL_2027 = """
[years.2027]
holidays = ["2027-01-01"]
workdays = ["2027-01-02"]
"""


def test_operators_add_a_year_without_code_change(tmp_path) -> None:
    (tmp_path / "cal2027.toml").write_text(CAL_2027, encoding="utf-8")
    from streams.engine.config import DEFAULT_CONFIG

    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        "files = []", 'files = ["cal2027.toml"]'
    )
    (tmp_path / "supervision.toml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "supervision.toml")
    assert config.calendar.wd_after(d("2026-12-31"), 1) == d(
        "2027-01-02"
    )  # 01-01 rest, 01-02 Saturday worked
    assert config.calendar.wd_after(d("2026-12-31"), 2) == d("2027-01-04")
    assert config.version != load_config().version  # calendar data is part of the version


def test_override_replaces_a_library_year(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[years.2026]\nholidays = ["2026-03-04"]\nworkdays = []\n', encoding="utf-8")
    calendar = WorkCalendar.build([load_calendar_file(path)])
    assert not calendar.is_workday(d("2026-03-04"))
    assert calendar.is_workday(d("2026-10-05"))  # library holidays of 2026 replaced


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[years.2027]\nholidays = ["2027-02-30"]\n', "not a date"),
        ('[years.2027]\nholidays = ["2026-01-01"]\n', "not in 2027"),
        (
            '[years.2027]\nholidays = ["2027-01-01"]\nworkdays = ["2027-01-01"]\n',
            "both holiday and workday",
        ),
        ("[years.2027]\nrest = []\n", "unknown keys"),
        ("[years.abc]\n", "not a number"),
        ("years = [", "not valid TOML"),
    ],
)
def test_bad_calendar_files_are_refused_clearly(tmp_path, content: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CalendarError, match=message):
        load_calendar_file(path)


def test_missing_calendar_file_is_a_config_error(tmp_path) -> None:
    from streams.engine.config import DEFAULT_CONFIG

    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace("files = []", 'files = ["nope.toml"]')
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="nope.toml"):
        load_config(tmp_path / "s.toml")
