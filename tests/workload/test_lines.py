"""JSON Lines and malformed lines (``streams/workload/lines.py``)."""

from __future__ import annotations

from streams.workload import BAD_KINDS, GenerateConfig, encode_lines, generate_events
from tests.workload.corpus import ENGINE_PROCESSES, run_replay


def test_lines_are_keyed_by_case() -> None:
    lines = list(encode_lines(generate_events(GenerateConfig(cases=50, seed=2))))
    assert all(line.valid and line.key and line.key in line.value for line in lines)


def test_malformed_lines_cover_every_kind_and_are_all_rejected() -> None:
    config = GenerateConfig(cases=1_000, seed=4)
    lines = [
        line
        for line in encode_lines(generate_events(config), bad_rate=0.1, seed=4)
        if line.process in ENGINE_PROCESSES
    ]
    bad = [line for line in lines if not line.valid]
    assert len(bad) > 5 * len(BAD_KINDS)
    _, rejected = run_replay([line.value for line in lines])
    assert rejected == len(bad)
    texts = b"\n".join(line.value for line in bad)
    assert b'"extra":1' in texts or b'"source_system":1' in texts or b'"ts":1' in texts
    assert b'"launch"' in texts or b'"archive"' in texts or b'"close"' in texts
