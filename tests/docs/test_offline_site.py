"""The built documentation works when opened from ``site/`` over file://, with no network.

The site is built once into a temporary directory. Every page is checked for what a
browser would fetch (all of it local, pages as files, never directory listings), and,
where a Chromium is installed, the search is run in it from file:// through the theme's
``?q=`` parameter.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
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


# -- layout, measured in Chromium at a laptop's width -------------------------------------------

#: The width the site must read well at: a laptop screen, both sidebars shown.
WIDTH = 1280

#: The classes and functions each reference page must show (their headings' ids).
REFERENCE = {
    "reference/modem.html": (
        "n58aio.open_modem",
        "n58aio.Modem",
        "n58aio.Modem.attach",
        "n58aio.bringup.ModemStatus",
        "n58aio.bringup.OnStep",
        "n58aio.logs.enable_logging",
    ),
    "reference/requests.html": (
        "n58aio.http.Response",
        "n58aio.http.TLSConfig",
        "n58aio.http.Timeouts",
        "n58aio.http.RecvMode",
        "n58aio.http.httpx_transport.ModemTransport",
    ),
    "reference/pool.html": ("n58aio.pool.ModemPool", "n58aio.pool.PoolStats"),
    "reference/transfers.html": (
        "n58aio.transfer.download.download",
        "n58aio.transfer.DownloadResult",
        "n58aio.transfer.module_get",
    ),
    "reference/files.html": (
        "n58aio.transfer.files.ModuleFiles",
        "n58aio.transfer.files.ModuleFiles.install_tls",
        "n58aio.transfer.FileEntry",
    ),
    "reference/emulator.html": (
        "n58aio.emulator.Emulator",
        "n58aio.emulator.EmulatorConfig",
        "n58aio.emulator.Faults",
    ),
    "reference/errors.html": (
        "n58aio.errors.N58Error",
        "n58aio.errors.ModemNotAnswering",
        "n58aio.errors.PortOpenError",
        "n58aio.errors.TLSError",
    ),
}

#: Loads each page in a frame WIDTH pixels wide and reports, as JSON in ``#probe``, per page:
#: how far the page scrolls sideways, the code blocks that do (their widest line), the ids of
#: the API entries shown, and the attribute entries that show a value (``= ...``).
_PROBE = """<!doctype html><meta charset="utf-8"><body><script>
(async () => {
  const results = {};
  for (const page of PAGES) {
    const frame = document.createElement("iframe");
    frame.style.width = "WIDTHpx"; frame.style.height = "900px";
    await new Promise(done => { frame.onload = done; frame.src = page;
                                document.body.appendChild(frame); });
    await new Promise(done => setTimeout(done, 200));
    const doc = frame.contentDocument, root = doc.documentElement;
    const longest = code => code.textContent.split("\\n")
      .reduce((a, b) => (a.length >= b.length ? a : b), "");
    results[page] = {
      overflow: root.scrollWidth - root.clientWidth,
      wide: [...doc.querySelectorAll("pre > code")]
        .filter(code => code.scrollWidth > code.clientWidth + 1).map(longest),
      entries: [...doc.querySelectorAll(".doc-heading[id]")]
        .filter(heading => heading.getBoundingClientRect().height > 0).map(h => h.id),
      valued: [...doc.querySelectorAll(".doc-attribute")].filter(entry => {
          const signature = entry.querySelector(":scope > .doc-signature");
          return signature !== null && signature.textContent.includes(" = ");
        }).map(entry => entry.querySelector(".doc-heading").id),
    };
    frame.remove();
  }
  const out = document.createElement("pre");
  out.id = "probe"; out.textContent = JSON.stringify(results);
  document.body.appendChild(out);
})();
</script>"""


@pytest.fixture(scope="module")
def layout(site: Path, browser: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What Chromium measured on every page at WIDTH pixels (see ``_PROBE``)."""
    pages = [page.relative_to(site).as_posix() for page in sorted(site.rglob("*.html"))]
    pages = [page for page in pages if page != "404.html"]
    harness = site / "layout-probe.html"
    harness.write_text(
        _PROBE.replace("PAGES", json.dumps(pages)).replace("WIDTH", str(WIDTH)), encoding="utf-8"
    )
    profile = tmp_path_factory.mktemp("profile")
    try:
        done = subprocess.run(
            [
                browser,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--allow-file-access-from-files",  # the harness reads its frames' documents
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH + 40},1000",
                "--virtual-time-budget=60000",
                "--dump-dom",
                harness.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        harness.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found is not None, done.stderr[-2000:]
    results: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    assert sorted(results) == sorted(pages)
    return results


def test_no_page_scrolls_sideways_at_laptop_width(layout: dict[str, Any]) -> None:
    assert {page: r["overflow"] for page, r in layout.items() if r["overflow"] > 0} == {}


def test_home_page_code_fits_at_laptop_width(layout: dict[str, Any]) -> None:
    assert layout["index.html"]["wide"] == []


def test_reference_pages_show_their_entries_and_no_attribute_values(
    layout: dict[str, Any],
) -> None:
    for page, names in REFERENCE.items():
        shown = set(layout[page]["entries"])
        assert set(names) <= shown, (page, sorted(set(names) - shown))
        assert layout[page]["valued"] == [], page
