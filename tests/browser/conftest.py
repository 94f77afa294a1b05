"""Headless Debian Chromium driven by Selenium (chromium-driver), against a real `nija up`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "browser"
INSTALL = Path(__file__).with_name("install_chromium.sh")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
)


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[str, str]:
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        # The test setup installs them (make test and .ci/run do too); fail loudly if it cannot.
        subprocess.run(["bash", str(INSTALL)], check=True, timeout=600)
    return "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def nija_browser_stack(tmp_path_factory):
    from e2e.conftest import start_nija

    # The repository's recorded candles, replayed as fast as the engine takes them: a paper bot
    # trades within seconds instead of waiting for real 5-minute candles.
    replay = Path(__file__).resolve().parent.parent / "data" / "ohlcv"
    running = start_nija(tmp_path_factory.mktemp("nija-browser"), extra_env={"NIJA_MARKET_DATA": f"replay:{replay},speed=max"})
    yield running
    running.stop()


@pytest.fixture
def browser(chromium_paths):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium_paths
    profile = tempfile.mkdtemp(prefix="nija-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    try:
        driver.save_screenshot(str(ARTIFACTS / "last.png"))  # where the test ended (or failed)
    finally:
        driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
