"""The cheap checks that let ``mask_text`` skip a form never skip text the form would mask."""

import random
import re
import sys

from streams.privacy import _SECRET_WORDS, mask_text


def test_secret_word_letters_casefold_to_themselves() -> None:
    """Every character that (?i) matches to a letter of a secret word casefolds to that letter."""
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    for letter in sorted(set("".join(_SECRET_WORDS))):
        for char in re.findall("(?i)" + re.escape(letter), every):
            assert char.casefold() == letter, (letter, hex(ord(char)))


_PIECES = [
    "110105199001011237",  # citizen ID, valid check digit
    "11010519900101123X",
    "110105900101123",  # old 15-digit form
    "91350100M000100Y43",  # unified social credit code shape
    "13812345678",
    "+86 13812345678",
    "010-12345678",
    "0755-1234567",
    "a.b@example.com",
    "x://u:pw@host",
    "password=abc",
    "TOKEN: x",
    "Paſsword=1",  # long s: (?i) matches it to "s"
    "\u212akey=1",  # Kelvin sign
    "api-key:zz",
    "AP-OPEN-20261125-0000041",
    "１２３４５６７８９０１２",  # full-width digits are \d too
    "12345678901",
    "-",
    "@",
    "://",
    "行政",
    " ",
    "：",
    "0",
    "X",
    "pwd",
    "secret'",
    "=",
    ":",
    "0755",
    "1234567",
    "１２３４５６７",  # full-width digits in a landline number
    "91350100",
    "M000100Y43",
    "91350100m000100y43",  # small letters
    "138 1234 5678",
    "138-1234-5678",
    "+86 138 1234 5678",
    "138.1234.5678",
    "138 12345678",
    "0086",
    "110105 19900101 1237",
    "110105-19900101-1237",
    "USCC",
    "x123",
    ".",
    "１３８",
    "Ｘ",
    "ｍ",
]


def _reference(text: str) -> str:
    """Every substitution, none skipped (the definition the checks must agree with)."""
    from streams import privacy as p

    text = p._URL_CREDENTIALS.sub(lambda m: m.group("head") + p.MASK * 3, text)
    text = p._KEY_VALUE_SECRET.sub(lambda m: m.group("head") + p.MASK * 3, text)
    text = p._EMAIL.sub(p._email, text)
    # digit forms: on the ASCII copy (full-width characters read as ASCII), masks carried back
    # (until nothing changes: masking one form can bound another)
    copy = text.translate(p._FULL_WIDTH)
    masked, before = copy, None
    while masked != before:
        before = masked
        masked = p._ID18.sub(p._id18, masked)
        masked = p._ID18_GROUPED.sub(p._id18_grouped, masked)
        masked = p._mask_credit_codes(masked)
        masked = p._ID15.sub(lambda m: p._keep(m.group(0), 3, 3), masked)
        masked = p._MOBILE.sub(lambda m: m.group("cc") + p._keep(m.group("number"), 3, 4), masked)
        masked = p._MOBILE_GROUPED.sub(p._mobile_grouped, masked)
        masked = p._LANDLINE.sub(
            lambda m: m.group("area") + "-" + p._keep(m.group("number"), 0, 4), masked
        )
    return "".join(
        p.MASK if m == p.MASK and c != p.MASK else o
        for o, c, m in zip(text, copy, masked, strict=True)
    )


def test_mask_text_equals_every_substitution_applied() -> None:
    rnd = random.Random(20261125)
    for _ in range(20_000):
        text = "".join(rnd.choice(_PIECES) for _ in range(rnd.randint(1, 6)))
        assert mask_text(text) == _reference(text), text
