"""Failure captures from a page that navigates under them: each part is tried again once the load is over.

A real page that reloads itself makes this race only now and then (it made CI red twice); this stand-in
makes it happen every time, with the same calls a Playwright page answers.
"""

from __future__ import annotations

import pytest

from opskit.browser.artifacts import save_failure

NAVIGATING = "Page.content: Unable to retrieve content because the page is navigating and changing the content."


class ReloadingPage:
    """Fails the first ``busy`` captures as a navigating page does, then answers."""

    def __init__(self, busy: int):
        self.busy, self.loads, self.shots = busy, 0, []

    def _maybe_fail(self) -> None:
        if self.busy:
            self.busy -= 1
            raise RuntimeError(NAVIGATING)

    def screenshot(self, *, path: str, **options: object) -> None:
        self._maybe_fail()
        self.shots.append(options["full_page"])
        open(path, "wb").write(b"\x89PNG")

    def content(self) -> str:
        self._maybe_fail()
        return "<html>status</html>"

    def wait_for_load_state(self, state: str, timeout: float) -> None:
        self.loads += 1

    def is_closed(self) -> bool:
        return False


def capture(tmp_path, page: ReloadingPage):
    return save_failure(
        tmp_path / "failure",
        page=page,
        context=None,
        masks=[],
        message="the export was not ready",
        secrets=[],
        staged_traces=[],
        tracing=False,
        step={"step": "wait for export"},
    )


def test_a_page_navigating_under_the_capture_still_leaves_a_screenshot_and_the_page(tmp_path):
    page = ReloadingPage(busy=2)  # the first full-page shot and its retry fail: the viewport is taken
    folder = capture(tmp_path, page)
    assert page.shots == [False] and page.loads == 2
    assert (folder / "screenshot.png").exists() and (folder / "page.html").read_text() == "<html>status</html>"


@pytest.mark.parametrize("busy", [3, 6])
def test_a_page_that_never_settles_leaves_the_error_and_the_step(tmp_path, busy, caplog):
    page = ReloadingPage(busy=busy)
    folder = capture(tmp_path, page)
    names = {p.name for p in folder.iterdir()}
    assert "error.txt" in names and "step.json" in names and "screenshot.png" not in names
    assert ("page.html" in names) == (busy == 3)  # three tries for the shot, then three for the page
    assert "no failure screenshot: Page.content: Unable to retrieve content" in caplog.text
