"""Bulletins (通报): a month's department scores and ranks frozen (``0007_bulletins.sql``).

``draft(backend, config, month, user_id, now_us)`` freezes the month's scores as they
are now (``reads.month_scores``) as the month's next revision, authored by ``user_id``;
``approve(backend, bulletin_id, user_id, now_us)`` records the approval by an office lead
(role ``approver``) other than the author, once; ``revisions(backend, month)`` and
``bulletin(backend, bulletin_id)`` read them back. What is frozen is
``report.month_report``: per department its rank, score, grade, the counts deducted for,
the on-time rate, the month's cards and the score trend. Nothing is overwritten: each draft and
each approval is a row of its own. Who may draft: inspectors and approvers; who approves:
approvers (workflow.md § Who may do what). A refusal raises ``BulletinRefused`` with the
reason in Chinese.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from streams.scoring import FAILING
from streams.storage.backends import Backend
from streams.web.report import month_report
from streams.workflow.policy import APPROVER, INSPECTOR

DRAFT, APPROVAL = "draft", "approval"
COLUMNS = (
    "bulletin_id",
    "month",
    "revision",
    "kind",
    "config_version",
    "user_id",
    "at_us",
    "scores",
)

REVISIONS_SQL = """
SELECT bulletin_id, revision, kind, config_version, user_id, at_us, scores
FROM bulletins FINAL
WHERE month = %(month)s
ORDER BY revision, kind DESC, at_us
"""

BULLETIN_SQL = """
SELECT month FROM bulletins FINAL WHERE bulletin_id = %(bulletin_id)s LIMIT 1
"""


class BulletinRefused(ValueError):
    """Why a bulletin may not be drafted or approved (Chinese, for the page)."""


@dataclass
class Bulletin:
    bulletin_id: str
    month: str
    revision: int
    config_version: str
    author: str
    drafted_at_us: int
    scores: list[dict[str, Any]]
    approver: str = ""
    approved_at_us: int | None = None


def revisions(backend: Backend, month: str) -> list[Bulletin]:
    """The month's revisions, oldest first (the first draft of a revision number counts)."""
    found: dict[int, Bulletin] = {}
    for row in backend.query(REVISIONS_SQL, {"month": month}).dicts():
        revision = int(row["revision"])
        if row["kind"] == DRAFT and revision not in found:
            found[revision] = Bulletin(
                row["bulletin_id"], month, revision, row["config_version"], row["user_id"],
                int(row["at_us"]), orjson.loads(row["scores"]),
            )  # fmt: skip
        elif row["kind"] == APPROVAL:
            draft = found.get(revision)
            if draft is not None and draft.bulletin_id == row["bulletin_id"] and not draft.approver:
                draft.approver, draft.approved_at_us = row["user_id"], int(row["at_us"])
    return list(found.values())


def bulletin(backend: Backend, bulletin_id: str) -> Bulletin | None:
    rows = backend.query(BULLETIN_SQL, {"bulletin_id": bulletin_id}).rows
    if not rows:
        return None
    return next((b for b in revisions(backend, rows[0][0]) if b.bulletin_id == bulletin_id), None)


def bottom(found: Bulletin, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of ``rows`` (the bulletin's rows a reader sees), those named at the bottom: the last
    rank of the whole bulletin, and every 不合格; none when one department is ranked."""
    if len(found.scores) < 2:
        return []
    last = max(r["rank"] for r in found.scores)
    return [r for r in rows if r["rank"] == last or r["grade"] == FAILING]


def draft(backend: Backend, config: Any, month: str, user_id: str, now_us: int) -> str:
    user = config.users.get(user_id)
    if user is None or user.role not in (INSPECTOR, APPROVER):
        raise BulletinRefused("只有监察员或审批人可以起草通报")
    scores = month_report(backend, config, month)
    revision = len(revisions(backend, month)) + 1
    text = "\x1f".join(("bulletin", month, str(revision), user_id, str(now_us)))
    bulletin_id = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    row = (
        bulletin_id,
        month,
        revision,
        DRAFT,
        config.version,
        user_id,
        now_us,
        orjson.dumps(scores).decode(),
    )
    backend.insert("bulletins", COLUMNS, [row])
    return bulletin_id


def approve(backend: Backend, config: Any, bulletin_id: str, user_id: str, now_us: int) -> Bulletin:
    found = bulletin(backend, bulletin_id)
    if found is None:
        raise BulletinRefused("通报不存在")
    user = config.users.get(user_id)
    if user is None or user.role != APPROVER:
        raise BulletinRefused("只有审批人可以审批通报")
    if user_id == found.author:
        raise BulletinRefused("须由起草人以外的审批人审批")
    if found.approver:
        raise BulletinRefused(f"该版通报已由 {found.approver} 审批")
    row = (
        bulletin_id,
        found.month,
        found.revision,
        APPROVAL,
        found.config_version,
        user_id,
        now_us,
        "",
    )
    backend.insert("bulletins", COLUMNS, [row])
    found.approver, found.approved_at_us = user_id, now_us
    return found
