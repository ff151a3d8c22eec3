"""The pure supervision engine: validation, calendar, configuration and rules.

Nothing here reads a clock or talks to Kafka, Faust or ClickHouse; the same
engine serves replay, the live agents and tests.

| module         | holds                                                               |
| -------------- | ------------------------------------------------------------------- |
| ``engine``     | ``Engine``: the two halves joined (replay, tests)                   |
| ``cases``      | ``CaseEngine``: per-case evaluation, dispatch to the rules          |
| ``casestore``  | ``CaseStore``: its states, tracking, loading, late input, retention |
| ``pending``    | ``PendingCases``: cases waiting for a calendar year (rules.md §1.5) |
| ``resolve``    | a pending case's decisions made once the calendar has its years     |
| ``state``      | ``CaseState`` and its serialized form (the live changelog's)        |
| ``clock``      | the case clock and step clocks (rules.md §1.1, §1.2)                |
| ``reports``    | monthly and early reports of a case with a clock (rules.md §3.6)    |
| ``deadlines``  | the deadline index: which cases are due when                        |
| ``cross``      | ``CrossEngine``: facts per comparison key, windows, expiry          |
| ``facts``      | ``Fact``: what one case did that another case's rule compares       |
| ``corrections``| a late event: its case evaluated again, the difference (§1.4)       |
| ``crosslog``   | a late fact: its key's fact log judged again from its place (§1.4)  |
| ``rules/``     | every rule as a named function, by domain (rules.md §3)             |
| ``catalogue``  | the item catalogue (事项目录) and the compression of promised limits |
| ``alerts``     | alert ids, messages, the events.md JSON form                        |
| ``model``      | ``Event``, ``Alert``, ``CaseStatus``                                |
| ``validate``, ``config``, ``configfile``, ``calendar``, ``timeutil`` | input, configuration (``configfile``: the file's form), time |

The hot modules may run compiled (mypyc, ``make native``); ``_native``
decides, before any of them is imported, whether the compiled form matches
the sources (else the ``.py`` files run).
"""

from streams.engine import _native  # noqa: F401  (first: it decides compiled or pure)
from streams.engine.alerts import alert_to_dict
from streams.engine.calendar import CalendarError, CalendarYearMissing, WorkCalendar
from streams.engine.cases import CaseEngine, CaseState
from streams.engine.config import ConfigError, SupervisionConfig, load_config
from streams.engine.cross import CrossEngine, Fact
from streams.engine.engine import Engine
from streams.engine.model import Alert, CaseStatus, Event
from streams.engine.validate import EventValidator, InvalidEvent

__all__ = [
    "Alert",
    "CalendarError",
    "CalendarYearMissing",
    "CaseEngine",
    "CaseState",
    "CaseStatus",
    "ConfigError",
    "CrossEngine",
    "Engine",
    "Event",
    "EventValidator",
    "Fact",
    "InvalidEvent",
    "SupervisionConfig",
    "WorkCalendar",
    "alert_to_dict",
    "load_config",
]
