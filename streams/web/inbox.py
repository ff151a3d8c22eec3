"""What a user's inbox holds: the page (``Pages.inbox``) and its pushed updates
(``streams.web.push``) select the same rows the same way.

``InboxFilter.parse(query)``: the page's filters (state, level, overdue only) from its
query string, unknown values ignored. ``scope(user, filters)``: the departments (None: all)
and states (None: all) the stored query is asked for: without a state filter, the states
in which a workflow waits for the user's role (``queries.DUTIES``). ``select(rows, user,
filters)``: the same choice made in Python over the open workflows of every department
(what the push watcher reads once for all its clients), each row kept only within the
user's scope (``User.covers``). ``decorate(rows, now_us, config)``: the next deadline's
text and the working days left, as the page shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from streams.storage import queries
from streams.web.views import days_left, deadline_text
from streams.workflow.model import STATES

LEVELS = ("red", "yellow", "notice")


@dataclass(frozen=True)
class InboxFilter:
    state: str = ""
    level: str = ""
    overdue: bool = False

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> InboxFilter:
        state = query.get("state", "")
        level = query.get("level", "")
        return cls(
            state=state if state in STATES else "",
            level=level if level in LEVELS else "",
            overdue=query.get("overdue") == "1",
        )

    def query_string(self) -> str:
        pairs = {"state": self.state, "level": self.level, "overdue": "1" if self.overdue else ""}
        return urlencode({k: v for k, v in pairs.items() if v})


def scope(user: Any, filters: InboxFilter) -> tuple[list[str] | None, list[str] | None]:
    """(departments, states) for ``queries.inbox``."""
    states = [filters.state] if filters.state else list(queries.DUTIES.get(user.role, ())) or None
    return sorted(user.departments) or None, states


def select(rows: list[dict[str, Any]], user: Any, filters: InboxFilter) -> list[dict[str, Any]]:
    """The rows (``queries.inbox`` over every department and state, in its order) this
    user's inbox shows with these filters."""
    _, states = scope(user, filters)
    return [
        row
        for row in rows
        if user.covers(row["dept"])
        and (states is None or row["state"] in states)
        and (not filters.overdue or row["overdue"])
        and (not filters.level or row["level"] == filters.level)
    ]


def decorate(rows: list[dict[str, Any]], now_us: int, config: Any) -> list[dict[str, Any]]:
    return [
        dict(
            row,
            days_left=days_left(row["due_at_us"], now_us, config),
            due_text=deadline_text(row["due_at_us"], config),
        )
        for row in rows
    ]
