"""Headless Chromium for the search page's tests, bench and screenshot: the system's browser
(/usr/bin/chromium and /usr/bin/chromedriver, `apt-get install chromium chromium-driver`) driven by
Selenium. `chrome()` returns None where either is missing, so that callers can skip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

CHROMIUM = os.environ.get("SEMSEARCH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SEMSEARCH_CHROMEDRIVER", "/usr/bin/chromedriver")
# Chromium keeps a Unix socket (its SingletonSocket) in a folder under $TMPDIR, and a socket's path
# holds at most 107 bytes: under a deeper $TMPDIR (a pytest-xdist worker's tmp_path) it exits at
# start. Such a $TMPDIR is replaced, for the browser alone, by the system's.
_SOCKET_ROOM = 40


def missing() -> str | None:
    """Why no browser can be started here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)) and not shutil.which(path):
            return f"no {path} (apt-get install chromium chromium-driver)"
    return None


def chrome(javascript: bool = True, width: int = 900, height: int = 900, dark: bool = False) -> Any:
    """A headless Chromium session (Selenium's WebDriver), or None where there is none."""
    if missing():
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # containers and CI runners without user namespaces
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--lang=ja",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    if dark:
        options.add_argument("--force-dark-mode")
        options.add_argument("--blink-settings=preferredColorScheme=0")
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER, env=_environment()))


def _environment() -> dict[str, str]:
    """The browser's environment: this one, with a $TMPDIR short enough for Chromium's socket."""
    env = dict(os.environ)
    if len(tempfile.gettempdir()) > _SOCKET_ROOM:
        env["TMPDIR"] = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    return env
