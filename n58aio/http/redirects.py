"""The next request of a redirect, by httpx's rules: method, URL, headers, body."""

from __future__ import annotations

from urllib.parse import urljoin

from ..errors import InvalidValue
from ..redact import redact
from .headers import Headers
from .options import RequestOptions
from .url import ModuleURL

__all__ = ["redirect_request"]

# Headers that describe a body: gone with the body when a redirect turns the method into GET.
_BODY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})
# Credentials that never go to another origin.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# A caller's Host names the first origin's virtual host: another origin gets its own (as httpx).
_ORIGIN_HEADERS = frozenset({"host"})


def redirect_request(
    method: str, url: str, status: int, location: str, options: RequestOptions
) -> tuple[str, str, RequestOptions]:
    """The method, URL and options of the request that follows a ``status`` redirect to
    ``location`` (resolved against ``url``).

    As httpx: a 303 becomes GET (HEAD stays HEAD), a 301 or 302 turns POST into GET, and a 307
    or 308 repeats the method with its body. Credentials (``Authorization``, the URL's user
    information, ``Cookie``) are kept for the same origin, or an upgrade from ``http`` to
    ``https`` on the same host, and dropped for any other origin. Raises
    :class:`~n58aio.errors.InvalidValue` for a location the module cannot request.
    """
    current = ModuleURL.parse(url)
    next_url = urljoin(url, location.strip())
    try:
        target = ModuleURL.parse(next_url)
    except InvalidValue as exc:
        raise InvalidValue(f"cannot follow the redirect to {redact(next_url)!r}: {exc}") from None
    next_method = _redirect_method(method.upper(), status)
    headers = list(Headers(options.get("headers")).raw)
    if current.origin != target.origin:
        headers = [(n, v) for n, v in headers if n.lower() not in _ORIGIN_HEADERS]
    if not (current.origin == target.origin or _is_https_upgrade(current, target)):
        headers = [(n, v) for n, v in headers if n.lower() not in _CREDENTIAL_HEADERS]
    elif (
        current.authorization is not None
        and target.authorization is None
        and not any(n.lower() == "authorization" for n, _ in headers)
    ):
        headers.append(("Authorization", current.authorization))
    following: RequestOptions = {**options}
    if next_method != method.upper() and next_method in ("GET", "HEAD"):
        headers = [(n, v) for n, v in headers if n.lower() not in _BODY_HEADERS]
        following.pop("content", None)
        following.pop("data", None)
        following.pop("json", None)
    following["headers"] = headers
    return next_method, next_url, following


def _redirect_method(method: str, status: int) -> str:
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


def _is_https_upgrade(current: ModuleURL, target: ModuleURL) -> bool:
    return (
        current.scheme == "http"
        and target.scheme == "https"
        and current.host == target.host
        and current.port == 80
        and target.port == 443
    )
