"""Alert messages: identifiers are masked value by value exactly as if the whole text were masked."""

from __future__ import annotations

import random
import re
import string
from typing import Any

from streams.engine.alerts import (
    _MESSAGES,
    _VARIANT_DETAIL,
    LEVEL_NAMES,
    PROCESS_NAMES,
    _value,
    message_for,
    plain,
)
from streams.privacy import mask_text
from tests.test_privacy_prechecks import _PIECES

# What a maskable form may start or end with next to a value: letters, digits (any script's
# decimal digits, as \d matches them), and the punctuation the forms contain.
_JOINING = re.compile(r"[0-9A-Za-z_+\-.%@:/=\"'&,;]|\d")


def _fields(template: str) -> list[tuple[str, str | None, str | None]]:
    return [(text, name, spec) for text, name, spec, _ in string.Formatter().parse(template)]


def test_template_text_next_to_a_value_never_joins_it() -> None:
    for key, template in _MESSAGES.items():
        parts = _fields(template)
        for i, (_, name, spec) in enumerate(parts):
            if name is None:
                continue
            assert name.isidentifier() and not spec, (key, name)  # plain {name} only
            before = parts[i][0][-1:]
            after = parts[i + 1][0][:1] if i + 1 < len(parts) else ""
            for char in (before, after):
                assert not char or not _JOINING.match(char), (key, name, char)
    for name in [*PROCESS_NAMES.values(), *LEVEL_NAMES.values()]:
        assert not _JOINING.match(name[:1]) and not _JOINING.match(name[-1:]), name


def _unmasked(rule: str, level: str, process: str, case_id: str, details: dict[str, Any]) -> str:
    template = _MESSAGES.get(rule + "/" + level)
    if template is None:
        variant = _VARIANT_DETAIL.get(rule)
        key = rule + "/" + variant if variant is not None and variant in details else rule
        template = _MESSAGES[key]
    values = {
        name: format(_value(details, name))
        for _, name, _, _ in string.Formatter().parse(template)
        if name
    }
    return (
        f"{PROCESS_NAMES[process]} {case_id}：{template.format_map(values)}（{LEVEL_NAMES[level]}）"
    )


def _random_alerts(
    pieces: list[str], count: int
) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    rnd = random.Random(20261125)
    rules = sorted({key.split("/")[0] for key in _MESSAGES})
    names = sorted({n for t in _MESSAGES.values() for _, n, _ in _fields(t) if n})
    names += ["missing", "reason", "unit"]

    def piece() -> str:
        return "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 3)))

    out = []
    for _ in range(count):
        details: dict[str, Any] = {n: piece() for n in names if rnd.random() < 0.7}
        if "missing" in details:
            details["missing"] = [piece(), piece()]
        if rnd.random() < 0.3:
            details["count"] = rnd.choice([3, 13812345678, 110105199001011237])
        level = rnd.choice(list(LEVEL_NAMES))
        out.append((rnd.choice(rules), level, rnd.choice(list(PROCESS_NAMES)), piece(), details))
    return out


def test_value_by_value_masking_equals_masking_the_whole_message() -> None:
    """Without "@", ":" or "=" (no form can span values) the two are the same text."""
    pieces = [p for p in _PIECES if not set(p) & set("@:=")]
    for rule, level, process, case_id, details in _random_alerts(pieces, 20_000):
        expected = mask_text(_unmasked(rule, level, process, case_id, details))
        assert message_for(rule, level, process, case_id, details) == expected, (case_id, details)


def test_messages_with_forms_that_span_values_are_masked_whole() -> None:
    """With them, the message is masked whole too: nothing maskable is left in it."""
    for rule, level, process, case_id, details in _random_alerts(_PIECES, 20_000):
        message = message_for(rule, level, process, case_id, details)
        assert mask_text(message) == message


def test_a_secret_cannot_hide_behind_another_value() -> None:
    """Masked whole only, "password=1" would swallow the token after it as its own secret."""
    message = message_for(
        "STEP_OVERDUE", "yellow", "inspection", "password=1", {"after": "token: abc", "within": 2}
    )
    assert "abc" not in message and "password=***" in message


def test_plain_texts_are_those_mask_text_leaves_alone() -> None:
    """``plain`` lets message_for skip mask_text; it may only say so of texts mask_text keeps."""
    rnd = random.Random(7)
    # Near misses: digit runs of 6-12 after dashes and zeros, next to capitals.
    alphabet = string.digits * 6 + "0000--  ..1" + "ANYXQ" + "abmy_./ +@:=#１行"
    texts = ["AP-OPEN-20261125-0000041", "123456", "abc-123456-654321", ""]
    texts += ["".join(rnd.choice(_PIECES) for _ in range(rnd.randint(1, 4))) for _ in range(5_000)]
    texts += [
        "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 30))) for _ in range(100_000)
    ]
    plain_count = 0
    for text in texts:
        if plain(text):
            plain_count += 1
            assert mask_text(text) == text, text
    assert plain_count > 10_000  # the check is not vacuous
    for text in ("AP-OPEN-20261125-0000041", "123456", "010-123456", "1-1234567", "Z1234567A"):
        assert plain(text), text
    for text in (
        "12345678901",
        "010-1234567",
        "0755-1234567",
        "91350100M000100Y43",
        "a:b",
        "a=b",
        "a@b",
        "138 1234 5678",
        "138-1234-5678",
        "138.1234.5678",
        "138 12345678",
        "110105 19491231 002X",
        "110105-19491231-002X",
        "91350100m000100y43",
        "行",
        "１",
    ):
        assert not plain(text), text


def test_every_process_of_the_contract_has_its_name() -> None:
    from streams.engine.validate import process_titles

    assert process_titles() == PROCESS_NAMES
