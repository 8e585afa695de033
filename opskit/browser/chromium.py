"""Which Chromium Playwright should drive on this machine.

Playwright's own Chromium is preferred where it is installed (a user's laptop after ``playwright install``).
Where it is not, and its download host is unreachable (locked-down servers, CI), a system Chromium such as
Debian's ``chromium`` package works through ``executable_path``. Detect, never assume.

A headless browser session prefers a *headless shell* (Debian's ``chromium-headless-shell``, or
$OPSKIT_CHROMIUM_HEADLESS), as Playwright does with its own builds: the same engine without the desktop
browser around it, it costs about a quarter less CPU per run (bench/bench_browser.py), which on a small
machine shared with the web app being driven is time. Headed runs, and the PDFs opskit renders, keep the
full browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from opskit.errors import OpskitError

SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HEADLESS_SHELLS = ("chromium-headless-shell", "chrome-headless-shell")
INSTALL_HINT = (
    "install one: `python -m playwright install chromium` (needs internet), or on Debian/Ubuntu "
    "`sudo apt-get install -y chromium`, or set OPSKIT_CHROMIUM=/path/to/chrome"
)


class BrowserMissing(OpskitError):
    """No Chromium is installed that Playwright can drive."""

    exit_code = 2


def system_chromium() -> Path | None:
    """A system Chromium: $OPSKIT_CHROMIUM if set, else the first of the usual names on PATH."""
    return _executable("OPSKIT_CHROMIUM", SYSTEM_CANDIDATES)


def headless_shell() -> Path | None:
    """A headless shell to drive headless: $OPSKIT_CHROMIUM_HEADLESS if set, else the first of the usual names
    on PATH; None when $OPSKIT_CHROMIUM names the one browser to use, or there is none."""
    if not os.environ.get("OPSKIT_CHROMIUM_HEADLESS") and os.environ.get("OPSKIT_CHROMIUM"):
        return None
    return _executable("OPSKIT_CHROMIUM_HEADLESS", HEADLESS_SHELLS)


def _executable(variable: str, names: Iterable[str]) -> Path | None:
    """The program ``$variable`` names (it must be an executable file), else the first of ``names`` on PATH."""
    override = os.environ.get(variable)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrowserMissing(f"{variable}={override} is not an executable file", hint=INSTALL_HINT)
        return path
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def launch_options(playwright: Any, *, shell: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch`` that pick the browser to drive.

    Empty when Playwright's bundled Chromium is installed (Playwright picks its own headless shell); else
    ``executable_path`` of a system headless shell when ``shell`` (a headless session) and there is one, or
    of a system Chromium.

    Raises:
        BrowserMissing: none is installed; the message says what to install.
    """
    if not os.environ.get("OPSKIT_CHROMIUM") and not (shell and os.environ.get("OPSKIT_CHROMIUM_HEADLESS")):
        bundled = Path(playwright.chromium.executable_path)
        if bundled.is_file():
            return {}
    found = headless_shell() if shell else None
    if found is not None:
        return {"executable_path": str(found)}
    system = system_chromium()
    if system is None:
        raise BrowserMissing("no Chromium found for Playwright", hint=INSTALL_HINT)
    return {"executable_path": str(system)}
