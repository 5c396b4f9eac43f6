"""The --serve page in a real browser: headless Chromium (Debian's chromium package; .ci/run
installs it) opens the page of a running bfcnn-runtime, decodes the MJPEG stream and draws it.
Checked on the screenshot: not blank, the view (noisy | denoised) across the whole width at the
right aspect ratio, on a desktop window and on a phone-sized one."""
import os
import re
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="needs Debian's chromium package (apt-get install chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def served():
    """A bfcnn-runtime serving a synthetic 320x240 camera's view (640x240: noisy | denoised)."""
    proc = subprocess.Popen([sys.executable, "-m", "bfcnn.runtime.cli", "--synthetic", "--width", "320",
                             "--height", "240", "--fps", "15", "--serve", "127.0.0.1:0", "--threads", "1",
                             "--no-temporal"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url, deadline = None, time.time() + 60
    while url is None and time.time() < deadline:
        m = re.search(r"serving the view at (http://\S+)", proc.stderr.readline())
        url = m.group(1) if m else None
    assert url, "bfcnn-runtime did not start serving"
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _screenshot(url, width, height, path):
    assert CHROMIUM, "chromium is not installed: apt-get install chromium"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={width},{height}", "--virtual-time-budget=4000",
                    f"--screenshot={path}", url], capture_output=True, timeout=120, check=True)
    shot = cv2.imread(str(path))
    assert shot is not None, "chromium wrote no screenshot"
    return shot


@pytest.mark.parametrize("width,height", [(1280, 720), (390, 844)])   # a desktop window, a phone
def test_the_page_shows_the_stream_in_a_browser(served, tmp_path, width, height):
    shot = _screenshot(served, width, height, tmp_path / "page.png")
    assert shot.shape[:2] == (height, width)
    # the drawn image: rows that are not the page's #111 background
    rows = np.flatnonzero(np.abs(shot.astype(int) - 17).max(axis=(1, 2)) > 8)
    assert rows.size > 0, "nothing drawn: the stream was not decoded"
    drawn = shot[rows[0]:rows[-1] + 1]
    expected = width * 240 / 640                        # the 640x240 view scaled to the window width
    assert abs(drawn.shape[0] - expected) <= 0.05 * expected + 3, (drawn.shape, expected)
    assert drawn.std() > 20                             # a picture, not a flat frame
    left, right = drawn[:, : width // 2], drawn[:, width // 2:]
    detail = [float(np.abs(np.diff(half.astype(float), axis=1)).mean()) for half in (left, right)]
    assert detail[0] > 1.3 * detail[1], detail           # noisy left half, denoised right half
