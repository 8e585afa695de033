"""The scheduler's warm browser, kept by its executor: runs that drive a browser connect to it.

``make_executor`` gives the scheduler's ``ForkedExecutor`` a ``WarmBrowserHook``: before each run starts,
``run_options`` adds ``warm_browser`` (the path of the warm browser's endpoint file) to the run's options,
and ``close`` stops the browser with the executor. The hook keeps the warm browser (opskit/browser/warm.py)
in shape from a thread of its own: started once a run has wanted one (a run that found no warm browser
leaves ``warm.wanted`` beside the endpoint file, and starts its own), replaced when it died or outgrew
``memory_cap``, stopped after ``idle_stop``. Runs by hand never see it.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from opskit.browser.warm import WarmBrowser

if TYPE_CHECKING:
    from opskit.config.model import Config

log = logging.getLogger(__name__)

MAINTAIN_EVERY_S = 5.0
"""How often the warm browser is looked after (a few psutil reads: cheap)."""


class WarmBrowserHook:
    """What the scheduler's executor asks before each run, and closes with itself (see the module docstring)."""

    def __init__(self, warm: WarmBrowser, *, maintain_every: float = MAINTAIN_EVERY_S):
        self.warm = warm
        self._stop = threading.Event()
        warm.stop_stale()  # one left behind by a scheduler that was killed
        if warm.wanted():
            warm.ensure()  # runs of an earlier scheduler wanted it: have it ready for this one's
        self._thread = threading.Thread(target=self._maintain, args=(maintain_every,), name="warm-browser", daemon=True)
        self._thread.start()

    def run_options(self) -> dict[str, Any]:
        """The options a run gets: where the warm browser's endpoint is (it may not be up; the run then
        starts its own browser)."""
        if self.warm.wanted():
            self.warm.ensure()  # ready now, or started in the background for the next runs
        return {"warm_browser": str(self.warm.endpoint)}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.warm.stop()

    def _maintain(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                if self.warm.wanted():
                    self.warm.ensure(use=False)  # a run wanted it: (re)started in the background
                self.warm.maintain()
            except Exception:  # noqa: BLE001 - runs fall back to their own browsers; try again later
                log.warning("could not look after the warm browser", exc_info=True)


def warm_browser_hook(config: Config) -> WarmBrowserHook | None:
    """The hook when ``scheduler.warm_browser.enabled`` (the default), else None."""
    settings = config.settings.scheduler.warm_browser
    if not settings.enabled:
        return None
    warm = WarmBrowser(config.var_dir, memory_cap=settings.memory_cap, idle_stop=settings.idle_stop.total_seconds())
    return WarmBrowserHook(warm)
