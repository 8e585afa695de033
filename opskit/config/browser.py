"""Per-source browser settings in config.yaml (``sources.<name>.browser``): sign-in, selectors, waits, artifacts.

Tasks name page elements by *logical* names (``save_button``, ``total_count``); ``selectors`` turns them into
selectors, so a renamed button is a config fix, not a code change. A selector is CSS (``#save``,
``form.decision button[type=submit]``) or one of the forms ``runner.py inspect`` prints, which survive
restyling better: ``role=button[name="Save decision"]``, ``label=Email``, ``placeholder=Search``,
``testid=save`` (``data-testid``), ``text=Save``, ``xpath=...``.

Sign-in needs no selectors on most sites: a visible password field is "the sign-in form", the field before
it is the user name, its form's submit button signs in, a new ``role=alert`` message after submitting is
the refusal. Declare ``login.signed_in`` (present only when signed in) or ``login.form`` (present only on the
sign-in form) where that guess is wrong, e.g. a settings page with a password field::

    sources:
      desk:
        url: https://appeals.example.com
        username_env: DESK_USER
        password_env: DESK_PASSWORD
        browser:
          login:
            signed_in: "role=button[name=\\"Log out\\"]"
          selectors:
            save_button: role=button[name="Save decision"]
            error_banner: ".banner-error"
          dismiss: ["role=button[name=\\"Got it\\"]"]

The defaults of ``selectors`` are the Moderation Console's element ids (``DEFAULT_SELECTORS``), so its tasks
run with no configuration; a name you give wins over them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from opskit.config.types import Duration

# The Moderation Console's normal layout (demo/README.md, "Selectors"). Every element has an id.
DEFAULT_SELECTORS: dict[str, str] = {
    "username": "#username",
    "password": "#password",
    "login_button": "#login-button",
    "login_error": "#login-error",
    "otp": "#otp",
    "otp_button": "#otp-button",
    "otp_error": "#otp-error",
    "session_expired": "#session-expired",
    "server_error": "#server-error",
    "signed_in": "#nav-queues",
    "date_from": "#filter-date-from",
    "date_to": "#filter-date-to",
    "date_by": "#filter-date-by",
    "queue": "#filter-queue",
    "market": "#filter-market",
    "vendor": "#filter-vendor",
    "decision": "#filter-decision",
    "search_button": "#search-button",
    "export_csv": "#export-csv",
    "export_xlsx": "#export-xlsx",
    "export_status": "#export-status",
    "download_link": "#download-link",
    "total_count": "#total-count",
    "case_table": "#case-table",
    "page_next": "#page-next",
    "page_prev": "#page-prev",
    "page_number": "#page-number",
    "page_count": "#page-count",
    "queue_table": "#queue-table",
    "as_of": "#as-of",
    "targets_table": "#targets-table",
    "productivity_table": "#productivity-table",
    "logout": "#logout",
}

LOGIN_PARTS = ("username", "password", "submit", "error", "otp", "otp_submit", "otp_error")
"""Parts of the sign-in form a recipe may name; each is found on the page when it does not."""
_PART_SELECTOR_NAMES = {"submit": "login_button", "error": "login_error", "otp_submit": "otp_button"}


class LoginRecipe(BaseModel):
    """How to tell whether the session is signed in, and how to sign in.

    Every field is optional: what is not given is found on the page (see the module docstring). Values are
    logical selector names (looked up in ``selectors``) or selectors.

    Attributes:
        signed_in: Present only when signed in (a "Log out" button, the user menu). Makes the check exact
            and instant; without it, "signed in" means "no sign-in form is showing".
        form: Present only on the sign-in form. Default: a visible password field.
        url: A regular expression; a page whose URL matches is the sign-in page (e.g. ``/login|/sso/``).
        path: Where to go to sign in when ``login()`` is asked on a page without the form, relative to the
            source's url. Default: stay (a form shown in place), else the source's url.
        open: A button or link that shows the sign-in form, in place or in a pop-up window ("Sign in").
        username: The user name field; default: the text field before the password field.
        password: The password field; default: the visible password field.
        submit: The sign-in button; default: the form's submit button (else Enter in the password field).
        error: The refusal message; default: a ``role=alert`` (or ``.error``) message that appears.
        otp: The one-time code field of a second step; default: a field with ``autocomplete=one-time-code``.
        otp_submit: The one-time code button; default: its form's submit button.
        otp_error: The refusal of the code; default: as ``error``.
        otp_env: The environment variable holding the one-time code; None when the tool has no second step.
        success: Old name of ``signed_in``, still accepted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    signed_in: str | None = None
    form: str | None = None
    url: str | None = None
    path: str | None = None
    open: str | None = None
    username: str | None = None
    password: str | None = None
    submit: str | None = None
    error: str | None = None
    otp: str | None = None
    otp_submit: str | None = None
    otp_error: str | None = None
    otp_env: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and "success" in data:
            data = dict(data)
            success = data.pop("success")
            data.setdefault("signed_in", success)
        return data

    @model_validator(mode="after")
    def _valid_url(self) -> LoginRecipe:
        if self.url is not None:
            import re

            try:
                re.compile(self.url)
            except re.error as exc:
                raise ValueError(f"login.url {self.url!r} is not a regular expression: {exc}") from None
        return self


class BrowserSettings(BaseModel):
    """How opskit drives a source's web UI.

    Attributes:
        login: How to tell signed in from signed out, and how to sign in (``LoginRecipe``).
        selectors: Logical names to selectors, over ``DEFAULT_SELECTORS`` (the Moderation Console's).
        mask: Elements (names or selectors) painted over in screenshots, e.g. user content. Password fields
            and every field a secret was typed into are always masked.
        dismiss: Buttons that close overlays (cookie banners, "What's new" pop-ups) whenever they show up
            before an action: each is clicked, then the action goes on.
        dialogs: What to do with JavaScript alert/confirm/prompt dialogs no task rule matched.
        popups: ``close`` closes windows a page opens that the task did not ask for (``click(..., popup=True)``).
        trace: Keep a Playwright trace (``failure/trace.zip``) when a session fails. Off by default: a trace
            holds every page and request of the run. Never recorded while signing in; secrets are redacted.
        artifacts_retention: Failure folders (screenshot, page, trace) of earlier runs older than this are
            deleted when a new browser session starts.
        action_timeout: Longest wait for an element to appear or become clickable.
        navigation_timeout: Longest wait for a page to load.
        download_timeout: Longest wait for a download, including a background export being prepared.
        retries: Extra attempts for steps known to be flaky (a navigation answered with a server error,
            a session that expired mid-task); other steps fail at once.
        warm: Runs started by the scheduler use its warm browser (a new private context per run).
        http: ``auto``: with a saved sign-in, steps run over plain HTTP while the pages need no browser
            (no scripts, plain CSS selectors), and the browser starts at the first step that does
            (docs/browser.md, "Without a browser"). ``off`` (default): always the browser.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    login: LoginRecipe = Field(default_factory=LoginRecipe)
    selectors: dict[str, str] = Field(default_factory=dict)
    mask: tuple[str, ...] = ()
    dismiss: tuple[str, ...] = ()
    dialogs: Literal["dismiss", "accept"] = "dismiss"
    popups: Literal["keep", "close"] = "keep"
    trace: bool = False
    artifacts_retention: Duration = timedelta(days=14)
    action_timeout: Duration = timedelta(seconds=15)
    navigation_timeout: Duration = timedelta(seconds=30)
    download_timeout: Duration = timedelta(minutes=10)
    retries: int = Field(3, ge=0, le=10)
    warm: bool = True
    http: Literal["off", "auto"] = "off"

    def selector_map(self) -> dict[str, str]:
        """The defaults with this source's names on top."""
        return {**DEFAULT_SELECTORS, **self.selectors}

    def login_part(self, part: str) -> str | None:
        """The selector (or name) of a sign-in part the config gives, or None to find it on the page.

        ``login.<part>`` wins; a name under ``selectors`` (``username``, ``login_button`` ...) also counts,
        so a config written for the old recipe keeps working.
        """
        given = getattr(self.login, part)
        if given is not None:
            return str(given)
        return self.selectors.get(_PART_SELECTOR_NAMES.get(part, part))


class WarmBrowserSettings(BaseModel):
    """The scheduler's warm browser (``scheduler.warm_browser``): one Chromium its runs share.

    Attributes:
        enabled: Start it with the scheduler; runs of sources with ``browser.warm`` connect to it.
        memory_cap: Restart it (once its runs have ended) when its processes use more than this many MiB.
        idle_stop: Stop it after this long without a run; the next run starts it again.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    memory_cap: int = Field(1536, ge=256)
    idle_stop: Duration = timedelta(minutes=30)
