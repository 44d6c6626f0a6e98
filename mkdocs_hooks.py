"""mkdocs hooks: Sphinx roles as links, and a search that works from file://.

The docstrings use Sphinx cross-reference roles (``:class:`~n58aio.Modem```), which
mkdocstrings leaves as literal text; ``on_page_content`` turns each into an optional autorefs
link to the object's entry in the API reference (plain code when it has none), showing, for
``~``, the last name only. A re-exported name (``n58aio.TLSConfig``) is looked up by the path
where it is defined, the one the reference registers.

The theme's ``offline`` plugin makes the search index loadable from file:// but points
the page at a Worker stand-in on unpkg.com, which an offline reader cannot fetch;
``on_config`` swaps it for the site's own copy (``docs/assets/javascripts/file-worker.js``).
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

from mkdocs.plugins import event_priority

_ROLE = re.compile(
    r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const):<code>(~?)([\w.]+)</code>"
)

#: The site's own Worker stand-in for file:// pages, relative to the site root.
FILE_WORKER = "assets/javascripts/file-worker.js"


#: A signature default that is a private sentinel (``pool: float | None = _UNSET``).
_SENTINEL = re.compile(
    r'<autoref [^>]*identifier="[\w.]*\._[A-Z_]+"[^>]*>_[A-Z_]+</autoref>'
    r'|<span title="[\w.]*\._[A-Z_]+">_[A-Z_]+</span>'
)


def on_page_content(html: str, **_: Any) -> str:
    """Turn the roles of a page's HTML into links (resolved by autorefs, later); show a private
    sentinel default as ``...`` (the docstring says what leaving it out means)."""
    return _SENTINEL.sub("...", _ROLE.sub(_link, html))


def _link(match: re.Match[str]) -> str:
    short, path = match.group(1), match.group(2)
    shown = path.rpartition(".")[2] if short else path
    identifier = _defined_at(path)
    return f'<autoref identifier="{identifier}" optional hover><code>{shown}</code></autoref>'


@functools.cache
def _defined_at(path: str) -> str:
    """``module.Class.member`` where the object named ``path`` is defined (``n58aio.TLSConfig``
    -> ``n58aio.http.tls.TLSConfig``; ``Modem.attach``, relative to the package, ->
    ``n58aio.modem.Modem.attach``); ``path`` itself when it names no importable object."""
    if not path.startswith("n58aio."):
        found = _defined_at(f"n58aio.{path}")
        return path if found == f"n58aio.{path}" else found
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        rest = parts[cut:]
        for name in rest:
            target = getattr(target, name, None)
            if target is None:
                return path
        if not rest:
            return path
        module = getattr(target, "__module__", None)
        qualname = getattr(target, "__qualname__", None)
        if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
            return f"{module}.{qualname}"
        return path
    return path


@event_priority(-100)  # after the offline plugin has added its polyfill
def on_config(config: Any, **_: Any) -> Any:
    """Load the Worker stand-in from the site instead of from the network."""
    polyfills = [
        url for url in config.extra.get("polyfills", []) if "iframe-worker" not in str(url)
    ]
    if FILE_WORKER not in polyfills:
        polyfills.append(FILE_WORKER)
    config.extra["polyfills"] = polyfills
    return config
