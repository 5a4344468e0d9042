"""The HTML report rendered by headless Chromium is a real page, not a blank one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sociallearn.report import build_report

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def render_png(html_path: Path, png_path: Path, profile_dir: Path) -> None:
    """Screenshot a local page with a throwaway profile and every network feature off."""
    browser = _chromium()
    assert browser is not None
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile_dir}",
        f"--screenshot={png_path}",
        "--window-size=1280,2000",
        html_path.resolve().as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


@pytest.mark.skipif(
    _chromium() is None,
    reason="headless Chromium not installed (Debian: apt-get install chromium)",
)
def test_report_renders_to_a_non_blank_png(synthetic_run_dir: Path, tmp_path: Path) -> None:
    import matplotlib.image
    import numpy as np

    paths = build_report(synthetic_run_dir, n_resamples=500)
    png = tmp_path / "report.png"
    render_png(paths.html, png, tmp_path / "profile")
    assert png.is_file()
    pixels = np.asarray(matplotlib.image.imread(str(png)), dtype=float)[..., :3]
    assert pixels.shape[0] >= 1900 and pixels.shape[1] >= 1200
    assert pixels.var() > 0.01
    not_white = (pixels < 0.9).any(axis=-1)
    assert not_white.mean() > 0.02
    # Plots are colourful: some pixels where the channels differ a lot (not only black text).
    colourful = (pixels.max(axis=-1) - pixels.min(axis=-1)) > 0.3
    assert colourful.sum() > 1_000
