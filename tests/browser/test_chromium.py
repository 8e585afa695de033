"""Which Chromium a session drives: a headless session prefers a headless shell (a quarter less CPU per run),
an explicit $OPSKIT_CHROMIUM wins, and a bad path is one readable error."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from opskit.browser import warm
from opskit.browser.chromium import BrowserMissing, headless_shell, launch_options


def _exe(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A PATH with only fake browsers on it, and no Playwright build."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "no-playwright-builds"))
    monkeypatch.delenv("OPSKIT_CHROMIUM", raising=False)
    monkeypatch.delenv("OPSKIT_CHROMIUM_HEADLESS", raising=False)
    pw = SimpleNamespace(chromium=SimpleNamespace(executable_path=str(tmp_path / "not-installed" / "chrome")))
    return bin_dir, pw


def test_a_headless_session_prefers_the_headless_shell_and_a_headed_one_the_browser(machine):
    bin_dir, pw = machine
    chromium = _exe(bin_dir, "chromium")
    assert headless_shell() is None
    assert launch_options(pw, shell=True) == {"executable_path": str(chromium)}  # no shell: the browser
    shell = _exe(bin_dir, "chromium-headless-shell")
    assert launch_options(pw, shell=True) == {"executable_path": str(shell)}
    assert launch_options(pw) == {"executable_path": str(chromium)}  # headed, PDFs: the full browser
    assert warm.executable() == str(shell)  # the warm browser is always headless


def test_an_explicit_browser_wins_and_a_bad_shell_path_is_one_line(machine, monkeypatch, tmp_path):
    bin_dir, pw = machine
    _exe(bin_dir, "chromium-headless-shell")
    chosen = _exe(tmp_path, "my-chrome")
    monkeypatch.setenv("OPSKIT_CHROMIUM", str(chosen))
    assert headless_shell() is None
    assert launch_options(pw, shell=True) == {"executable_path": str(chosen)}
    assert warm.executable() == str(chosen)
    shell = _exe(tmp_path, "my-shell")
    monkeypatch.setenv("OPSKIT_CHROMIUM_HEADLESS", str(shell))
    assert launch_options(pw, shell=True) == {"executable_path": str(shell)}
    assert launch_options(pw) == {"executable_path": str(chosen)}
    assert warm.executable() == str(shell)
    monkeypatch.setenv("OPSKIT_CHROMIUM_HEADLESS", str(tmp_path / "missing"))
    with pytest.raises(BrowserMissing, match=r"^OPSKIT_CHROMIUM_HEADLESS=.*/missing is not an executable file\."):
        launch_options(pw, shell=True)


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which("chromium-headless-shell"), reason="no chromium-headless-shell here")
def test_a_run_by_hand_drives_the_headless_shell(console, make_ctx):
    with make_ctx(console).browser("console") as s:
        s.goto("/cases")
        assert s.exists("total_count")
        commands = []
        for p in psutil.Process().children(recursive=True):
            try:
                commands.append(" ".join(p.cmdline()))
            except psutil.Error:
                continue
    assert any("chromium-headless-shell" in c for c in commands)
