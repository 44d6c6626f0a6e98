"""mkdocs hooks: Sphinx roles as plain code, and a search that works from file://.

The docstrings use Sphinx cross-reference roles (``:class:`~n58aio.Modem```), which
mkdocstrings leaves as literal text; ``on_page_content`` drops the role and, for ``~``,
the module path.

The theme's ``offline`` plugin makes the search index loadable from file:// but points
the page at a Worker stand-in on unpkg.com, which an offline reader cannot fetch;
``on_config`` swaps it for the site's own copy (``docs/assets/javascripts/file-worker.js``).
"""

from __future__ import annotations

import re
from typing import Any

from mkdocs.plugins import event_priority

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const):(?=<code>)")
_TILDE = re.compile(r"<code>~(?:[\w]+\.)*([\w]+)</code>")

#: The site's own Worker stand-in for file:// pages, relative to the site root.
FILE_WORKER = "assets/javascripts/file-worker.js"


def on_page_content(html: str, **_: Any) -> str:
    """Strip the roles in a page's HTML."""
    return _TILDE.sub(r"<code>\1</code>", _ROLE.sub("", html))


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
