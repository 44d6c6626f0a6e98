"""Command lines of the HTTP and HTTPS families (chapter 9), built and validated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import InvalidValue
from ..wire import Source, check_text
from .parameters import bare_parameter, string_parameter

__all__ = [
    "HTTP",
    "HTTPS",
    "MAX_BODY",
    "POST_TYPES",
    "CommandFamily",
    "family_for_scheme",
]

MAX_BODY = 2048
"""Largest POST body or custom packet ``AT+HTTPACTION`` accepts."""

POST_TYPES: dict[str, int] = {
    "application/x-www-form-urlencoded": 0,
    "text/plain": 1,
    "application/json": 2,
    "application/xml": 3,
    "text/xml": 3,
    "text/html": 4,
}
"""Content types that ``AT+HTTPACTION=2,<length>,<type>`` can declare, with their ``<type>``."""

ActionMode = Literal[0, 1, 2, 99]


@dataclass(frozen=True, slots=True)
class CommandFamily:
    """The names of one family: ``HTTP`` (``AT+HTTPPARA``...) or ``HTTPS`` (``AT+HTTPSPARA``...)."""

    source: Source
    max_url: int
    default_port: int

    @property
    def prefix(self) -> str:
        """``HTTP`` or ``HTTPS``."""
        return self.source

    def para(self, name: str, value: str | int) -> str:
        """``AT+HTTPPARA=<name>,<value>``: the url value bare, or quoted when it holds ``,`` or
        ``;`` (see :mod:`~n58aio.commands.parameters`); other values bare."""
        text = str(value)
        if name == "url":
            text = string_parameter(text, "URL", max_length=self.max_url)
        else:
            bare_parameter(text, name)
        return f"AT+{self.prefix}PARA={name},{text}"

    def setup(self) -> str:
        """``AT+HTTPSETUP``."""
        return f"AT+{self.prefix}SETUP"

    def close(self) -> str:
        """``AT+HTTPCLOSE``."""
        return f"AT+{self.prefix}CLOSE"

    def action(
        self,
        mode: ActionMode,
        *,
        length: int | None = None,
        post_type: int | None = None,
        offset: int | None = None,
        size: int | None = None,
    ) -> str:
        """``AT+HTTPACTION=<mode>[,<length>[,<type>]]`` or ``=0,<offset>,<size>``."""
        command = f"AT+{self.prefix}ACTION={mode}"
        if offset is not None or size is not None:
            if mode != 0 or offset is None or size is None:
                raise InvalidValue("a ranged request needs GET with both offset and size")
            if offset < 0 or size < 1:
                raise InvalidValue(f"bad range: offset {offset}, size {size}")
            return f"{command},{offset},{size}"
        if mode in (2, 99):
            if length is None or not 1 <= length <= MAX_BODY:
                raise InvalidValue(
                    f"body of {length} bytes: the module sends 1 to {MAX_BODY} bytes per request"
                )
            command += f",{length}"
            if mode == 2 and post_type is not None:
                command += f",{post_type}"
        return command

    def closed_reports(self) -> tuple[str, str]:
        """Prefixes of the reports that say the link closed."""
        return (f"+{self.prefix}CLOSED:", f"+{self.prefix}CLOSE:")

    def get(self, check_md5: str | None = None, *, unzip: bool = True) -> str:
        """``AT+HTTPGET=<type>[,0,<md5>]`` (module-side background download)."""
        command = f"AT+{self.prefix}GET={0 if unzip else 1}"
        if check_md5 is not None:
            check_text(check_md5, "MD5")
            if len(check_md5) != 32 or any(c not in "0123456789abcdefABCDEF" for c in check_md5):
                raise InvalidValue("MD5 check value must be 32 hexadecimal digits")
            command += f",0,{check_md5.lower()}"
        return command

    def getstat(self) -> str:
        """``AT+HTTPGETSTAT?``."""
        return f"AT+{self.prefix}GETSTAT?"

    def file_action_get(self, offset: int, size: int) -> str:
        """``AT+FILEHTTPACTION=0,<offset>,<size>``."""
        if offset < 0 or not 1 <= size <= 524288:
            raise InvalidValue("file GET takes an offset >= 0 and a size of 1 to 524288 bytes")
        return f"AT+FILE{self.prefix}ACTION=0,{offset},{size}"

    def file_action_post(self, length: int, post_type: int, filename: str) -> str:
        """``AT+FILEHTTPACTION=1,<length>,<type>,<filename>``."""
        bare_parameter(filename, "module file name", max_length=255)
        if not 1 <= length <= 524288:
            raise InvalidValue("file POST takes 1 to 524288 bytes")
        if post_type not in range(5):
            raise InvalidValue("POST type must be 0 to 4")
        return f"AT+FILE{self.prefix}ACTION=1,{length},{post_type},{filename}"


HTTP = CommandFamily("HTTP", max_url=2048, default_port=80)
HTTPS = CommandFamily("HTTPS", max_url=512, default_port=443)


def family_for_scheme(scheme: str) -> CommandFamily:
    """HTTP for ``http``, HTTPS for ``https``."""
    if scheme == "http":
        return HTTP
    if scheme == "https":
        return HTTPS
    raise InvalidValue(f"unsupported URL scheme {scheme!r}: use http or https")
