"""Which Chromium Playwright should drive on this machine.

Playwright's own Chromium is preferred where it is installed (a user's laptop after ``playwright install``).
Where it is not, and its download host is unreachable (locked-down servers, CI), a system Chromium such as
Debian's ``chromium`` package works through ``executable_path``. Detect, never assume.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from opskit.errors import OpskitError

SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = (
    "install one: `python -m playwright install chromium` (needs internet), or on Debian/Ubuntu "
    "`sudo apt-get install -y chromium`, or set OPSKIT_CHROMIUM=/path/to/chrome"
)


class BrowserMissing(OpskitError):
    """No Chromium is installed that Playwright can drive."""

    exit_code = 2


def system_chromium() -> Path | None:
    """A system Chromium: $OPSKIT_CHROMIUM if set, else the first of the usual names on PATH."""
    override = os.environ.get("OPSKIT_CHROMIUM")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrowserMissing(f"OPSKIT_CHROMIUM={override} is not an executable file", hint=INSTALL_HINT)
        return path
    for name in SYSTEM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def launch_options(playwright: Any) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch`` that pick the browser to drive.

    Empty when Playwright's bundled Chromium is installed; ``executable_path`` of a system Chromium otherwise.

    Raises:
        BrowserMissing: neither is installed; the message says what to install.
    """
    if not os.environ.get("OPSKIT_CHROMIUM"):
        bundled = Path(playwright.chromium.executable_path)
        if bundled.is_file():
            return {}
    system = system_chromium()
    if system is None:
        raise BrowserMissing("no Chromium found for Playwright", hint=INSTALL_HINT)
    return {"executable_path": str(system)}
