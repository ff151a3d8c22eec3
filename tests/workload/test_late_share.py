"""``--late-share``: the last event of a share of cases held back and sent after the others."""

from __future__ import annotations

from datetime import datetime, timedelta

from streams.workload import GenerateConfig, generate_events, hold_back_last, report_late


def test_the_last_events_of_a_share_of_cases_come_after_all_the_others() -> None:
    events = list(generate_events(GenerateConfig(cases=500, seed=4, order="sorted")))
    out = list(hold_back_last(events, 0.1, seed=4))
    ids = [e["event_id"] for e in events]
    assert sorted(e["event_id"] for e in out) == sorted(ids)
    last = {e["event_id"] for e in {(e["process"], e["case_id"]): e for e in events}.values()}
    # the others keep their order; the held ones follow, in theirs: one drop in between
    position = {i: n for n, i in enumerate(ids)}
    sent = [position[e["event_id"]] for e in out]
    drops = [n for n in range(1, len(sent)) if sent[n] < sent[n - 1]]
    assert len(drops) == 1
    tail = [e["event_id"] for e in out[drops[0] :]]
    assert 35 <= len(tail) <= 65  # about one case in ten of 500
    assert set(tail) <= last  # only cases' last events are held back
    assert [i for i in (e["event_id"] for e in out) if i not in set(tail)] == [
        i for i in ids if i not in set(tail)
    ]  # the others in their order
    assert list(hold_back_last(events, 0.1, seed=4)) == out  # seeded
    assert list(hold_back_last(events, 0.0)) == events


def test_late_recordings_are_planted_on_cases_last_events() -> None:
    events = list(generate_events(GenerateConfig(cases=500, seed=4, order="sorted")))
    out = list(report_late(events, 0.1, seed=4))
    assert [e["event_id"] for e in out] == [e["event_id"] for e in events]
    last = {e["event_id"] for e in {(e["process"], e["case_id"]): e for e in events}.values()}
    late = [e for e in out if "reported_at" in e]
    assert 30 <= len(late) <= 70 and {e["event_id"] for e in late} <= last
    for e in late:
        delay = datetime.fromisoformat(e["reported_at"]) - datetime.fromisoformat(e["occurred_at"])
        assert delay == timedelta(days=2)
    assert list(report_late(events, 0.0)) == events
