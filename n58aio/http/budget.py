"""The module's 2048-byte request budget, and an error that says what used it."""

from __future__ import annotations

from collections.abc import Sequence

from ..commands.http import MAX_BODY
from ..errors import RequestTooLarge

__all__ = ["MAX_BODY", "over_budget"]


def over_budget(
    total: int, request_line: str, headers: Sequence[tuple[str, str]], body: bytes | None
) -> RequestTooLarge:
    """The error for a request whose bytes after the ``>`` prompt exceed :data:`MAX_BODY`.

    ``total`` is what would follow the prompt; ``headers`` those written (none when the module
    writes the request itself). The message names the budget, the total and its parts, the
    largest headers first, by name only (a header value may be a secret).
    """
    line_bytes = len(request_line) + 2
    sizes = [(name, len(name) + len(value) + 4) for name, value in headers]
    header_bytes = sum(size for _, size in sizes) + (2 if headers else 0)
    body_bytes = len(body or b"")
    parts = [f"body {body_bytes}"]
    if headers:
        largest = sorted(sizes, key=lambda item: -item[1])[:4]
        named = ", ".join(f"{name} {size}" for name, size in largest)
        parts = [f"request line {line_bytes}", f"headers {header_bytes} ({named})", *parts]
        hint = "send fewer or shorter headers, or a smaller body"
    else:
        hint = "send a smaller body"
    return RequestTooLarge(
        f"the request is {total} bytes, over the N58's budget of {MAX_BODY} bytes per "
        f"request: {', '.join(parts)}; {hint}",
        budget=MAX_BODY,
        used=total,
    )
