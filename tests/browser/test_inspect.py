"""`runner.py inspect SOURCE [PATH]` end to end: it signs in, and every selector it prints is valid YAML
that finds exactly the element it names, on both stand-in sites."""

from __future__ import annotations

import pytest
import yaml

from opskit.config.browser import BrowserSettings
from opskit.config.model import SourceConfig
from tests.browser.conftest import DESK_PASSWORD_ENV, DESK_USER_ENV, GOT_IT, PASSWORD_ENV, USER_ENV

pytestmark = pytest.mark.browser


def desk_config(tmp_project, desk) -> None:
    tmp_project.write_config(
        f"""\
        sources:
          desk:
            url: {desk.url}
            username_env: {DESK_USER_ENV}
            password_env: {DESK_PASSWORD_ENV}
            browser:
              dismiss: ['{GOT_IT}']
        """
    )


@pytest.fixture
def desk_env(monkeypatch, desk):
    from tests.fixtures.appdesk.server import USER

    monkeypatch.setenv(DESK_USER_ENV, USER)
    monkeypatch.setenv(DESK_PASSWORD_ENV, desk.password)


def check_each_selector(url: str, selectors: dict[str, str], source_env: dict | None = None) -> dict[str, str]:
    """Open ``url`` signed in as the CLI left it (saved sign-in) and count each selector's matches."""
    from playwright.sync_api import sync_playwright

    from opskit.browser.chromium import launch_options
    from opskit.browser.selectors import translate

    counts = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(pw))
        try:
            page = browser.new_context(storage_state=source_env).new_page()
            page.goto(url)
            page.wait_for_load_state("networkidle")
            for name, selector in selectors.items():
                counts[name] = page.locator(translate(selector)).count()
        finally:
            browser.close()
    return counts


def test_inspect_signs_in_to_an_app_and_prints_selectors_that_each_find_one_element(
    run_cli, tmp_project, desk, desk_env
):
    desk_config(tmp_project, desk)
    result = run_cli("inspect", "desk", "#/appeals/AP-0003")
    assert result.exit_code == 0, result.stderr
    block = yaml.safe_load(result.stdout)
    selectors = block["selectors"]
    assert selectors["save_decision"] == 'role=button[name="Save decision"]'
    assert selectors["note"] == 'role=textbox[name="Note"]'
    assert selectors["policy"] == 'role=combobox[name="Policy"]'
    assert selectors["open_receipt"] == 'role=link[name="Open receipt"]'
    assert "# form fields" in result.stdout and "(Choose…, Hate speech, Spam, Harassment)" in result.stdout
    assert "signing in to desk" in result.stderr  # it signed in; the block alone is on stdout
    # pasted into config.yaml, the block validates, and each selector finds exactly one element
    config = BrowserSettings(selectors=selectors)
    assert config.selectors == selectors
    saved = tmp_project.root / "var" / "browser" / "desk.json"
    counts = check_each_selector(desk.url + "/#/appeals/AP-0003", selectors, str(saved))
    assert selectors["got_it"] == GOT_IT and counts.pop("got_it") == 0  # the overlay of the first sign-in
    assert len(counts) >= 10 and set(counts.values()) == {1}, counts
    assert not (tmp_project.root / "var" / "inspect").exists() or not any(
        (tmp_project.root / "var" / "inspect").iterdir()
    )


def test_inspect_lists_the_console_tables_and_filters(run_cli, tmp_project, console, credentials):
    tmp_project.write_config(
        f"""\
        sources:
          console:
            url: {console.url}
            username_env: {USER_ENV}
            password_env: {PASSWORD_ENV}
        """
    )
    result = run_cli("inspect", "console", "/cases")
    assert result.exit_code == 0, result.stderr
    selectors = yaml.safe_load(result.stdout)["selectors"]
    assert "# tables" in result.stdout
    assert any(v == "testid=case-table" or v == "#case-table" for v in selectors.values()), selectors
    assert any(v in ("testid=search-button", 'role=button[name="Search"]') for v in selectors.values())
    assert SourceConfig(url=console.url, browser={"selectors": selectors}).browser.selectors == selectors


def test_inspect_without_signing_in_shows_the_sign_in_form(run_cli, tmp_project, desk, desk_env):
    desk_config(tmp_project, desk)
    result = run_cli("inspect", "desk", "#/reports", "--no-login")
    assert result.exit_code == 0, result.stderr
    selectors = yaml.safe_load(result.stdout)["selectors"]
    assert selectors["log_in"] == 'role=button[name="Log in"]'
    assert selectors["password"] == 'role=textbox[name="Password"]' or "Password" in selectors["password"]


def test_inspect_an_unknown_source_is_exit_2_with_a_suggestion(run_cli, tmp_project, desk):
    desk_config(tmp_project, desk)
    result = run_cli("inspect", "dsk")
    assert result.exit_code == 2
    assert result.stderr == "error: unknown source 'dsk'. Did you mean 'desk'?\n"
