"""Headless Chromium for the page tests: the DOM it builds from a page, and a screenshot of it."""
from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    """The browser's executable; the test skips, saying why, when there is none."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium: .ci/setup installs Debian's 'chromium' package with apt-get when it can "
                "(it needs root or passwordless sudo); install it, or any of " + ", ".join(NAMES) + ", to run this test")


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    # --no-sandbox: Chromium refuses to start as root with its sandbox on (containers, CI)
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
               f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def dump_dom(page: Path, profile: Path) -> str:
    """The document as Chromium parsed and laid it out (``--dump-dom``)."""
    return _run(["--dump-dom", page.resolve().as_uri()], profile).stdout


def screenshot(page: Path, png: Path, profile: Path, size: str = "1280,2400") -> Path:
    _run([f"--screenshot={png}", f"--window-size={size}", page.resolve().as_uri()], profile)
    assert png.exists(), f"Chromium wrote no screenshot to {png}"
    return png


class Page(HTMLParser):
    """What a test checks in a DOM: the text and the sources of the images."""

    def __init__(self, html: str):
        super().__init__()
        self.images: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())

    @property
    def words(self) -> str:
        return " ".join(self.text)


def colours(png: Path) -> dict[tuple[int, int, int], int]:
    """Pixel counts by colour of a screenshot."""
    from PIL import Image

    with Image.open(png) as image:
        found = image.convert("RGB").getcolors(maxcolors=1 << 24)
    return {colour: count for count, colour in found}
