"""The browser layer's pure parts, without a browser: selector forms, URL tests, page identity, settings."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from opskit.browser.selectors import SelectorMap, looks_like_selector, translate
from opskit.browser.signin import same_page
from opskit.browser.waiting import url_matcher
from opskit.config.browser import BrowserSettings, LoginRecipe
from opskit.errors import UsageError


@pytest.mark.parametrize(
    ("selector", "playwright"),
    [
        ("label=Note", 'internal:label="Note"i'),
        ('label="Note"', 'internal:label="Note"s'),
        ("placeholder=Search appeals", 'internal:attr=[placeholder="Search appeals"i]'),
        ("testid=save", 'internal:testid=[data-testid="save"s]'),
        ('role=button[name="Save"]', 'role=button[name="Save"]'),
        ("#save", "#save"),
        (".card >> label=Note", '.card >> internal:label="Note"i'),
        ('label=Ünïcode "quoted"', 'internal:label="Ünïcode \\"quoted\\""i'),
    ],
)
def test_selector_forms_translate_to_playwright(selector, playwright):
    assert translate(selector) == playwright


def test_names_resolve_and_an_unknown_name_says_did_you_mean():
    selectors = SelectorMap("desk", {"save_button": 'role=button[name="Save"]'})
    assert selectors.resolve("save_button") == 'role=button[name="Save"]'
    assert selectors.resolve("h1") == "h1" and looks_like_selector("table") and not looks_like_selector("save")
    with pytest.raises(
        UsageError, match=re.escape("unknown selector name 'save_buton' for source 'desk'. Did you mean 'save_button'?")
    ):
        selectors.resolve("save_buton")
    with pytest.raises(UsageError, match="Add it under sources.desk.browser.selectors"):
        selectors.resolve("export")


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("**/reports", "http://h/#/reports", True),
        ("**/appeals/*", "http://h/appeals/AP-1", True),
        ("**/appeals/*", "http://h/reports", False),
        ("done", "http://h/#/appeals/AP-1/done", True),
        (re.compile(r"AP-\d+$"), "http://h/#/appeals/AP-12", True),
    ],
)
def test_url_tests(pattern, url, matches):
    assert url_matcher(pattern)(url) is matches


def test_same_page_ignores_an_empty_query_and_its_order():
    assert same_page("http://h/cases?", "http://h/cases")
    assert same_page("http://h/cases?a=1&b=2", "http://h/cases?b=2&a=1")
    assert not same_page("http://h/cases?a=1", "http://h/cases?a=2")
    assert not same_page("http://h/#/appeals", "http://h/#/reports")


def test_login_settings_keep_the_old_name_and_refuse_a_bad_pattern():
    assert LoginRecipe(success="#nav-queues").signed_in == "#nav-queues"
    settings = BrowserSettings(selectors={"username": "#login-user", "login_button": "#go"})
    assert settings.login_part("username") == "#login-user" and settings.login_part("submit") == "#go"
    assert settings.login_part("password") is None  # found on the page
    with pytest.raises(ValidationError, match="login.url '\\(' is not a regular expression"):
        LoginRecipe(url="(")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        BrowserSettings(traces=True)
