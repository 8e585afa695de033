"""Per-source browser settings in config.yaml (``sources.<name>.browser``): login recipe, selectors, masks.

Tasks name page elements by *logical* names (``export_csv``, ``total_count``); the selector map turns them
into CSS. The defaults fit the Moderation Console's normal layout; a renamed button is then a config fix,
not a code change::

    sources:
      console:
        url: https://console.internal
        username_env: CONSOLE_USER
        password_env: CONSOLE_PASSWORD
        browser:
          selectors:
            export_csv: "#download-csv"
          login:
            otp_env: CONSOLE_OTP_CODE
          download_timeout: 20m
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

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


class LoginRecipe(BaseModel):
    """How to sign in. Field values are logical selector names (looked up in ``selectors``) or CSS.

    Attributes:
        path: The sign-in page, relative to the source's url.
        username: The user name field.
        password: The password field.
        submit: The sign-in button.
        error: Shown when the credentials are refused; its text is quoted in the error.
        success: Present on every page once signed in (the check that sign-in worked).
        otp: The one-time code field of a second step (only used when it appears).
        otp_submit: The one-time code button.
        otp_error: Shown when the code is refused.
        otp_env: The environment variable holding the one-time code; None when the tool has no second step.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = "/login"
    username: str = "username"
    password: str = "password"
    submit: str = "login_button"
    error: str = "login_error"
    success: str = "signed_in"
    otp: str = "otp"
    otp_submit: str = "otp_button"
    otp_error: str = "otp_error"
    otp_env: str | None = None


class BrowserSettings(BaseModel):
    """How opskit drives a source's web UI.

    Attributes:
        login: The sign-in recipe (see ``LoginRecipe``).
        selectors: Overrides and additions to ``DEFAULT_SELECTORS``, logical name to CSS selector.
        mask: Elements (logical names or CSS) painted over in failure screenshots, e.g. user content.
        artifacts_retention: Failure folders (screenshot, page, trace) of earlier runs older than this are
            deleted when a new browser session starts.
        action_timeout: Longest wait for an element to appear or become clickable.
        navigation_timeout: Longest wait for a page to load.
        download_timeout: Longest wait for a download, including a background export being prepared.
        retries: Extra attempts for steps known to be flaky (a navigation answered with a server error,
            a session that expired mid-task); other steps fail at once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    login: LoginRecipe = Field(default_factory=LoginRecipe)
    selectors: dict[str, str] = Field(default_factory=dict)
    mask: tuple[str, ...] = ("password",)
    artifacts_retention: Duration = timedelta(days=14)
    action_timeout: Duration = timedelta(seconds=15)
    navigation_timeout: Duration = timedelta(seconds=30)
    download_timeout: Duration = timedelta(minutes=10)
    retries: int = Field(3, ge=0, le=10)

    def selector_map(self) -> dict[str, str]:
        """The defaults with this source's overrides on top."""
        return {**DEFAULT_SELECTORS, **self.selectors}
