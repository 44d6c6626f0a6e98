"""The built documentation works when opened from ``site/`` over file://, with no network.

The site is built once into a temporary directory. Every page is checked for what a
browser would fetch (all of it local, pages as files, never directory listings), and,
where a Chromium is installed, the search is run in it from file:// through the theme's
``?q=`` parameter.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).with_name("mkdocs")

pytestmark = pytest.mark.skipif(
    not (REPO / "mkdocs.yml").is_file() or not MKDOCS.exists(),
    reason="needs the repository's mkdocs.yml and mkdocs (the docs extra)",
)


class _References(HTMLParser):
    """Collects what a page loads (scripts, styles, images) and where its links go."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in ("script", "img", "iframe", "source") and values.get("src"):
            self.loads.append(values["src"])
        elif tag == "link" and values.get("href"):
            if values.get("rel") in ("stylesheet", "icon", "preload", "manifest"):
                self.loads.append(values["href"])
            elif values.get("rel") not in ("canonical", "alternate"):
                self.links.append(values["href"])
        elif tag == "a" and values.get("href"):
            self.links.append(values["href"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation built with ``mkdocs build --strict`` into a temporary site/."""
    out = tmp_path_factory.mktemp("docs") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run(
        [str(MKDOCS), "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def _pages(site: Path) -> list[Path]:
    # 404.html is for web servers, which serve it at any path: its links are absolute
    pages = sorted(page for page in site.glob("*.html") if page.name != "404.html")
    assert len(pages) > 10
    return pages


def _references(page: Path) -> _References:
    refs = _References()
    refs.feed(page.read_text(encoding="utf-8"))
    return refs


def test_every_page_loads_only_files_of_the_site(site: Path) -> None:
    for page in _pages(site):
        for url in _references(page).loads:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, f"{page.name} fetches {url}"
            assert (page.parent / unquote(parts.path)).is_file(), f"{page.name}: {url} missing"


def test_internal_links_open_files_not_directory_listings(site: Path) -> None:
    for page in _pages(site):
        for url in _references(page).links:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # another site, or an anchor on this page
            target = page.parent / unquote(parts.path)
            assert target.is_file(), f"{page.name} links to {url}, which is not a file"


def test_search_index_and_worker_stand_in_ship_with_the_site(site: Path) -> None:
    index = (site / "search" / "search_index.js").read_text(encoding="utf-8")
    assert index.startswith("var __index = {")
    stand_in = "assets/javascripts/file-worker.js"
    assert (site / stand_in).is_file()
    for page in _pages(site):
        scripts = [url for url in _references(page).loads if url.endswith(".js")]
        # the stand-in must replace Worker before the theme's bundle creates the search worker
        assert scripts.index(stand_in) < next(
            i for i, url in enumerate(scripts) if "/bundle." in url
        ), page.name


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


_RESULT = re.compile(r'class="md-search-result__meta"[^>]*>([^<]*)<')


def _search_from_file_url(browser: str, page: Path, query: str, profile: Path) -> str:
    """The search result line that Chromium shows for ``query`` on ``page`` from file://."""
    done = subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            f"{page.as_uri()}?q={query}",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    found = _RESULT.search(done.stdout)
    return found.group(1).strip() if found else "search did not start"


@pytest.fixture(scope="module")
def browser() -> str:
    """Chromium; skipped without one, except in CI (CI=true), where .ci/run installs it."""
    found = _chromium()
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip("no Chromium installed to open the site in")
    return found


@pytest.mark.parametrize("page_name", ["index.html", "reference.html"])
def test_search_works_from_file_url_in_chromium(
    site: Path, browser: str, page_name: str, tmp_path: Path
) -> None:
    result = _search_from_file_url(browser, site / page_name, "resync", tmp_path / "profile")
    assert re.fullmatch(r"\d+ matching documents", result), result
    assert int(result.split()[0]) >= 2
    none = _search_from_file_url(browser, site / page_name, "qqzzxxyy", tmp_path / "profile")
    assert none == "No matching documents", none
