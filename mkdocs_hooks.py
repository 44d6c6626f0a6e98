"""mkdocs hook: render the Sphinx roles of the docstrings as plain code.

The docstrings use Sphinx cross-reference roles (``:class:`~n58aio.Modem```), which
mkdocstrings leaves as literal text; this drops the role and, for ``~``, the module path.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const):(?=<code>)")
_TILDE = re.compile(r"<code>~(?:[\w]+\.)*([\w]+)</code>")


def on_page_content(html: str, **_: Any) -> str:
    """Strip the roles in a page's HTML."""
    return _TILDE.sub(r"<code>\1</code>", _ROLE.sub("", html))
