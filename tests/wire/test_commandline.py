"""check_text: exactly the printable ASCII passes (its fast path and the per-character
refusal agree), every other character is refused with its name."""

from __future__ import annotations

import pytest

from n58aio.errors import InvalidValue
from n58aio.wire.commandline import check_text, encode_command

_SAMPLE = [*range(0x300), 0x2028, 0x3000, 0xFEFF, 0x1F600, 0x10FFFF]


@pytest.mark.parametrize("code", _SAMPLE)
def test_only_printable_ascii_passes(code: int) -> None:
    value = f"AT+X={chr(code)}y"
    if 0x20 <= code <= 0x7E:
        assert check_text(value, "command") == value
        assert encode_command(value) == value.encode("ascii") + b"\r"
    else:
        with pytest.raises(InvalidValue) as caught:
            check_text(value, "command")
        expected = "non-ASCII character" if code > 0x7F else "which would break the AT"
        assert expected in str(caught.value)


def test_control_bytes_are_named() -> None:
    for char, name in (("\r", "CR"), ("\n", "LF"), ("\x1a", "Ctrl-Z"), ("\x7f", "DEL")):
        with pytest.raises(InvalidValue, match=f"contains {name},"):
            check_text(f"AT{char}", "command")


def test_length_is_checked_after_the_characters() -> None:
    assert check_text("A" * 10, "value", max_length=10) == "A" * 10
    with pytest.raises(InvalidValue, match="11 bytes"):
        check_text("A" * 11, "value", max_length=10)
