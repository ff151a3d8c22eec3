"""Masking of personal and enterprise identifiers in free text (alert messages, logs).

What is masked, wherever it appears inside a text:

- 居民身份证号码: 18 characters (17 digits + digit or ``X``) with a valid birth
  date and ISO 7064 MOD 11-2 check digit, also run into letters, also written in
  groups (``110105 19491231 002X``, ``110105-19491231-002X``), and the old
  15-digit form;
- 统一社会信用代码 (GB 32100): 18 characters with a valid MOD 31 check character,
  in capitals or small letters, also run into letters on either side;
- mobile numbers (``1[3-9]`` + 9 digits, optional ``+86`` or ``0086``, letters may
  follow, as in an extension ``x123``; also written ``138 1234 5678``,
  ``138-1234-5678``, ``138.1234.5678`` or ``138 12345678``) and landlines written
  with an area code and a dash (``010-12345678``);
- the digit forms above written in full-width characters (``１３８…``) too.
- e-mail addresses;
- credentials: the password of ``scheme://user:password@host`` URLs and
  ``password=…``/``token: …`` pairs.

Check digits are verified so that business numbers that merely look alike
(办件编号, amounts) stay readable. Structured identifiers kept on purpose for
audit queries (``attrs.enterprise_id``, ``payee``…) are not free text and are
not touched here; only messages and logs go through :func:`mask_text`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

MASK = "*"

_B = r"(?<![0-9A-Za-z])"  # no \b: Chinese characters count as word characters
_E = r"(?![0-9A-Za-z])"
# Digits run into nothing on the left of a personal number; letters may (``ID110…``).

_URL_CREDENTIALS = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:)(?P<secret>[^\s@/]+)(?=@)"
)
_KEY_VALUE_SECRET = re.compile(
    r"(?i)(?P<head>(?<![A-Za-z0-9_])(?:password|passwd|pwd|secret|token|api[_-]?key)(?![A-Za-z0-9])[\"']?\s*[=:]\s*[\"']?)(?P<secret>[^\s\"',;&]+)"
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])(?P<user>[A-Za-z0-9._%+-]+)@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)
# The check digit makes a match an identifier, so letters may follow it (``…002Xabc``).
_ID18 = re.compile(
    r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
    r"(?![0-9])"
)
_ID15 = re.compile(r"(?<![0-9])[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}" + _E)
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ID18_GROUPED = re.compile(
    r"(?<![0-9])(?P<area>[1-9]\d{5})(?P<sep>[- ])(?P<birth>(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])"
    r"(?:0[1-9]|[12]\d|3[01]))(?P=sep)(?P<tail>\d{3}[0-9Xx])(?![0-9])"
)
# A credit code may touch letters (``USCC9135…``), never digits: a digit next to it would make
# it part of a longer number (case ids). Every start is tried (a lookahead), since a letter
# before a code can itself begin a candidate that fails its check.
_USCC_AT = re.compile(
    r"(?<![0-9])(?=(?P<code>[1-9ANYany][1-9]\d{6}[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{10})(?![0-9]))"
)
_MOBILE = re.compile(r"(?<![0-9+])(?P<cc>(?:(?:\+|00)?86[- ]?)?)(?P<number>1[3-9]\d{9})(?![0-9])")
_MOBILE_GROUPED = re.compile(
    r"(?<![0-9+])(?P<head>(?:(?:\+|00)?86[- ]?)?1[3-9]\d(?P<sep>[- .]))"
    r"(?:\d{4}(?P<tail>(?P=sep)\d{4})|\d{4}(?P<tail8>\d{4}))(?![0-9])"
)
# Full-width forms (０-９, Ｘ, Ａ-Ｚ…) stand for the same identifiers: they are found on an
# ASCII copy of the text (one character for one, so positions carry over).
_FULL_WIDTH = {0xFF01 + i: 0x21 + i for i in range(94)}
_LANDLINE = re.compile(_B + r"(?P<area>0\d{2,3})-(?P<number>\d{7,8})" + _E)

# Cheap necessary conditions, tested before each substitution so that a text skips every form
# it cannot contain (alert messages hold case ids with long digit runs: most skip every form).
# URL credentials need "://", e-mail addresses "@", landlines "-", and citizen ID numbers and
# mobile numbers eleven digits in a row. A secret needs an ASCII "=" or ":" (no character
# matches either case-insensitively) and one of _SECRET_WORDS in the casefolded text: every
# character that (?i) matches to one of their letters casefolds to that letter
# (tests/test_privacy_prechecks.py checks every code point). Every digit form
# contains a match of _DIGIT_FORMS: the forms themselves without their boundary checks.
_SECRET_WORDS = ("pass", "pwd", "secret", "token", "key")
_ELEVEN_DIGITS = re.compile(r"\d{11}")
_DIGIT_FORMS = re.compile(
    r"\d{11}|[1-9ANYany][1-9]\d{6}[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{10}|0\d{2,3}-\d{7}"
    r"|1[3-9]\d[- .]\d{4}[- .]?\d{4}|\d{6}[- ]\d{8}[- ]\d{3}[0-9Xx]"
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def id_number_valid(number: str) -> bool:
    """ISO 7064 MOD 11-2 check of an 18-character citizen ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def credit_code_valid(code: str) -> bool:
    """GB 32100 MOD 31 check of an 18-character unified social credit code."""
    code = code.upper()
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == code[17]


def _keep(text: str, head: int, tail: int) -> str:
    return text[:head] + MASK * (len(text) - head - tail) + text[len(text) - tail :]


def _id18(m: re.Match[str]) -> str:
    return _keep(m.group(0), 3, 4) if id_number_valid(m.group(0)) else m.group(0)


def _mask_credit_codes(text: str) -> str:
    spans = []
    end = 0
    for m in _USCC_AT.finditer(text):
        start = m.start()
        if start >= end and credit_code_valid(m.group("code")):
            end = start + 18
            spans.append(start)
    for start in spans:
        text = text[:start] + _keep(text[start : start + 18], 2, 4) + text[start + 18 :]
    return text


def _id18_grouped(m: re.Match[str]) -> str:
    if not id_number_valid(m.group("area") + m.group("birth") + m.group("tail")):
        return m.group(0)
    sep = m.group("sep")
    return m.group("area")[:3] + MASK * 3 + sep + MASK * 8 + sep + m.group("tail")


def _mobile_grouped(m: re.Match[str]) -> str:
    if m.group("tail") is not None:
        return m.group("head") + MASK * 4 + m.group("tail")
    return m.group("head") + MASK * 4 + m.group("tail8")


def _email(m: re.Match[str]) -> str:
    user = m.group("user")
    return f"{user[0]}{MASK * 3}@{m.group('domain')}"


def mask_text(text: str) -> str:
    """Return ``text`` with identifiers and credentials masked (idempotent)."""
    if not text:
        return text
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: m.group("head") + MASK * 3, text)
    if "=" in text or ":" in text:
        folded = text.casefold()
        for word in _SECRET_WORDS:
            if word in folded:
                text = _KEY_VALUE_SECRET.sub(lambda m: m.group("head") + MASK * 3, text)
                break
    if "@" in text:
        text = _EMAIL.sub(_email, text)
    if text.isascii():
        return _mask_digit_forms(text)
    ascii_digits = text.translate(_FULL_WIDTH)
    if ascii_digits != text:
        # Digit forms keep the length: mask the original where the ASCII copy got masked.
        masked = _mask_digit_forms(ascii_digits)
        return "".join(
            MASK if m == MASK and a != MASK else o
            for o, a, m in zip(text, ascii_digits, masked, strict=True)
        )
    return _mask_digit_forms(text)


def _mask_digit_forms(text: str) -> str:
    """The citizen ID, credit code and telephone forms; every substitution keeps the length.

    Masking one form can end a run of digits and so bound another (``…y43110105…`` masked
    to ``…y43*****``: a credit code now ends at ``y43``): until nothing changes, so that
    masking is idempotent. Each pass only turns characters into ``*``."""
    while True:
        masked = _mask_digit_forms_once(text)
        if masked == text:
            return text
        text = masked


def _mask_digit_forms_once(text: str) -> str:
    if _DIGIT_FORMS.search(text) is None:
        return text
    # Masking only replaces characters with "*": it never lengthens a run of digits.
    digits = _ELEVEN_DIGITS.search(text) is not None
    if digits:
        text = _ID18.sub(_id18, text)
    grouped = "-" in text or " " in text
    if grouped:
        text = _ID18_GROUPED.sub(_id18_grouped, text)
    text = _mask_credit_codes(text)
    if digits:
        text = _ID15.sub(lambda m: _keep(m.group(0), 3, 3), text)
        text = _MOBILE.sub(lambda m: m.group("cc") + _keep(m.group("number"), 3, 4), text)
    if grouped or "." in text:
        text = _MOBILE_GROUPED.sub(_mobile_grouped, text)
    if "-" in text:
        text = _LANDLINE.sub(lambda m: m.group("area") + "-" + _keep(m.group("number"), 0, 4), text)
    return text


def mask_structure(value: Any) -> Any:
    """:func:`mask_text` applied to every string inside dicts, lists and tuples."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: mask_structure(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_structure(v) for v in value]
    return value


def mask_alert_message(alert: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an alert (dict) whose free-text ``message`` is masked."""
    masked = dict(alert)
    if isinstance(masked.get("message"), str):
        masked["message"] = mask_text(masked["message"])
    return masked


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: let the handler report it as usual
        return
    record.msg = mask_text(message)
    record.args = ()  # mode's formatter wraps a non-tuple (None) into (None,) and fails
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)


class MaskingFilter(logging.Filter):
    """A logging filter that masks the formatted message, exception and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_record(record)
        return True


_installed_factory: Callable[..., logging.LogRecord] | None = None


def install_log_masking() -> None:
    """Mask every log record of the process at creation (idempotent).

    Works whatever handlers are configured later (Faust configures its own),
    because it wraps the record factory rather than a handler.
    """
    global _installed_factory
    current = logging.getLogRecordFactory()
    if _installed_factory is not None and current is _installed_factory:
        return
    previous = current

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _mask_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed_factory = factory
