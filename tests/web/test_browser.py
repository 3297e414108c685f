"""The day page in a real headless browser (Debian's `chromium`): the DOM it renders holds the digest's papers, the
page's own stylesheet passes its Content-Security-Policy, and screenshots at phone and desktop widths are taken.

Locally the test skips with a reason when no browser is installed; with CI=true it must run (`.ci/run` installs
`chromium`). `HOTPAPERS_SCREENSHOT_DIR` keeps the screenshots somewhere to look at."""

from __future__ import annotations

import asyncio
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.domain.web_settings import WebSettings
from bot.web.archive import ChannelArchive
from bot.web.server import start_web_server
from tests.conftest import SAMPLE_DAY, MakeApp
from tests.web.support import published_channel

WIDTHS = {"phone": (390, 844), "desktop": (1280, 1000)}


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    reason = "no headless browser installed (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true requires a browser: {reason}")
    pytest.skip(reason)


async def _chromium(browser: str, profile: Path, *args: str) -> tuple[str, str]:
    process = await asyncio.create_subprocess_exec(
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
        "--disable-dev-shm-usage", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
        f"--user-data-dir={profile}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(), err.decode(errors="replace")


class Articles(HTMLParser):
    """The text of each `<article>`'s title link, as the browser's DOM has it."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and any(name == "href" and (value or "").startswith("paper-") for name, value in attrs):
            self._in_title = True
            self.titles.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.titles[-1] += data


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HOTPAPERS_SCREENSHOT_DIR") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_day_page_renders_in_a_headless_browser_at_phone_and_desktop_widths(
    make_app: MakeApp, tmp_path: Path, shots: Path
) -> None:
    browser = _browser()
    app = await make_app(sample=True)
    published = await published_channel(app)
    server = await start_web_server(WebSettings(enabled=True, port=0), ChannelArchive(app.uow))
    try:
        url = f"http://127.0.0.1:{server.port}/c/{published.token}/{SAMPLE_DAY}.html"
        dom, log = await _chromium(browser, tmp_path / "profile", "--dump-dom", url)
        for name, (width, height) in WIDTHS.items():
            target = shots / f"day-{name}.png"
            await _chromium(browser, tmp_path / f"profile-{name}", f"--window-size={width},{height}",
                            f"--screenshot={target}", url)  # fmt: skip
            assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        await server.stop()
    posted = [call.entry.card.paper for call in published.publisher.calls
              if call.entry is not None and call.key is not None and call.key.day == SAMPLE_DAY]  # fmt: skip
    articles = Articles()
    articles.feed(dom)
    assert len(articles.titles) == len(posted)
    for paper in posted:
        assert f"https://arxiv.org/abs/{paper.id}" in dom
    assert "Intriguing Properties of Contrastive Losses" in articles.titles
    assert any("Attention eviL" in title for title in articles.titles)  # the hostile title, as text
    assert "<script" not in dom.lower()
    assert "Content Security Policy" not in log  # our stylesheet is allowed by its hash; nothing else was tried
