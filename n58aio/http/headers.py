"""A small case-insensitive, order-keeping multi-dict of HTTP headers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

__all__ = ["HeaderTypes", "Headers"]

HeaderTypes = (
    Mapping[str, str | bytes]
    | Mapping[bytes, str | bytes]
    | Iterable[tuple[str | bytes, str | bytes]]
    | Iterable[tuple[str, str]]
)
"""Request headers as httpx takes them: names and values are ``str`` or ``bytes``."""


def _text(item: object, what: str) -> str:
    """A header name or value as text: ``bytes`` decoded as latin-1 (one character per octet,
    so the octets go out unchanged), ``str`` as is, anything else refused as httpx does."""
    if isinstance(item, str):
        return item
    if isinstance(item, bytes | bytearray):
        return bytes(item).decode("latin-1")
    raise TypeError(f"Header {what} must be str or bytes, not {type(item)}")


class Headers(Mapping[str, str]):
    """Response or request headers: ``headers["content-type"]`` is case-insensitive, repeated
    fields are joined with ``", "``; :meth:`get_list` and :attr:`raw` keep them apart."""

    def __init__(self, items: HeaderTypes | None = None) -> None:
        pairs: list[tuple[str, str]] = []
        if items is not None:
            source = items.items() if isinstance(items, Mapping) else items
            pairs = [(_text(name, "name"), _text(value, "value")) for name, value in source]
        self.raw: list[tuple[str, str]] = pairs

    @classmethod
    def from_bytes(cls, items: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Build from h11's byte pairs (decoded as latin-1, the HTTP/1.1 header charset)."""
        return cls([(n.decode("latin-1"), v.decode("latin-1")) for n, v in items])

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        key = name.lower()
        return [value for field, value in self.raw if field.lower() == key]

    def __getitem__(self, name: str) -> str:
        values = self.get_list(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for field, _ in self.raw:
            key = field.lower()
            if key not in seen:
                seen.add(key)
                yield key

    def __len__(self) -> int:
        return len({field.lower() for field, _ in self.raw})

    def __repr__(self) -> str:
        shown = [(n, "<redacted>" if n.lower() in _SECRET else v) for n, v in self.raw]
        return f"Headers({shown!r})"


_SECRET = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def is_secret(name: str) -> bool:
    """True for headers whose values must never be logged."""
    return name.lower() in _SECRET
