"""Engine state in tables: the stamped values round-trip."""

from __future__ import annotations

from streams.live.state import StateTable, next_offset_key, pack_case, unpack_case


def test_case_values_carry_their_offset_stamp() -> None:
    assert unpack_case(pack_case(42, b"blob")) == (42, b"blob")


def test_bookkeeping_entries_read_as_integers() -> None:
    table = StateTable({next_offset_key(3, "t.fund"): b"17"}, "changelog")
    assert table.get_int(b"3|@next|t.fund") == 17
    assert table.get_int(next_offset_key(0, "t.fund")) is None
