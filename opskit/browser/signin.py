"""Signed in or not, read from the page; and signing in, wherever the form shows up.

"Signed out" is decided by what the page shows, never by its URL alone: the sign-in form (``login.form``,
by default a visible password field) is showing and the signed-in marker (``login.signed_in``, when the
config names one) is not; or the URL matches ``login.url``. That holds for a classic site that redirects to
``/login``, for a single-page app that shows its form in place at any route (hash or history), and for a
form in a pop-up window (``login.open`` names the button that opens it).

``SignIn.login`` is idempotent: on a signed-in page it does nothing. Otherwise it finds the form (here, after
``login.path``, at the source's url, or behind ``login.open``), fills it, and waits for the outcome: the
marker, the form going away, a refusal message (quoted in ``LoginFailed``) or a one-time-code field. The
browser's trace is paused for all of it (a trace would record the password), the sign-in is saved for later
runs, and the page goes back to where the task was.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

from opskit.browser.artifacts import save_storage_state
from opskit.browser.errors import LoginFailed, ServerError
from opskit.errors import UsageError
from opskit.sources.retry import call_with_retries

if TYPE_CHECKING:
    from opskit.browser.core import SessionCore

log = logging.getLogger(__name__)

PASSWORD = "input[type=password]"
USERNAME = (
    "input[autocomplete=username], input[type=email], input[name*=user i], input[name*=login i], "
    "input[name*=email i], input[id*=user i]"
)
USERNAME_BEFORE = (
    "xpath=preceding::input[not(@type) or @type='text' or @type='email' or @type='tel' or @type='number'][1]"
)
SUBMIT_IN_FORM = "button[type=submit], input[type=submit], button:not([type])"
OTP = (
    "input[autocomplete=one-time-code], input[name*=otp i], input[id*=otp i], input[name*=totp i], "
    "input[name*=mfa i], input[name=code i]"
)
ERROR = "[role=alert], .error, .alert-danger, .alert-error, .form-error, .login-error, .invalid-feedback"
OPEN = (r"role=button[name=/^\s*(sign|log)\s?in\b/i]", r"role=link[name=/^\s*(sign|log)\s?in\b/i]")
SETTLE_S = 3.0
"""How long ``login()`` waits for a sign-in form to show up on a page that has none yet (an app still
loading) before it concludes the session is signed in. A ``login.signed_in`` marker makes it exact."""


class SignIn:
    """The sign-in of one session: reading the state and signing in (``Session.signin``)."""

    def __init__(self, session: SessionCore):
        self.s = session
        self.recipe = session.settings.login
        self._url = re.compile(self.recipe.url) if self.recipe.url else None

    # --- reading the page ------------------------------------------------------------------
    def part(self, name: str) -> str | None:
        given = self.s.settings.login_part(name)
        return self.s.selectors.resolve(given) if given else None

    def form(self, page: Any) -> Any:
        return page.locator(self.part("form") or PASSWORD).filter(visible=True)

    def marker(self, page: Any) -> Any | None:
        css = self.part("signed_in")
        return page.locator(css).filter(visible=True) if css else None

    def opener(self, page: Any, *, generic: bool = False) -> Any | None:
        css = self.part("open")
        if css:
            return page.locator(css).filter(visible=True)
        if generic:  # a "Sign in" / "Log in" button or link
            return page.locator(OPEN[0]).or_(page.locator(OPEN[1])).filter(visible=True)
        return None

    def signed_out(self, page: Any | None = None) -> bool:
        """Whether ``page`` (the session's) shows that the session is signed out; instant, never waits."""
        page = page or self.s.page
        try:
            if self._url is not None and self._url.search(page.url):
                return True
            marker = self.marker(page)
            if marker is not None and marker.count():
                return False
            if self.form(page).count():
                return True
            opener = self.opener(page)
            return bool(opener is not None and opener.count())
        except Exception:  # a page between documents: not a decision
            return False

    def signed_in(self) -> bool:
        """Whether the session's page is signed in, once it has settled (see ``SETTLE_S``)."""
        page = self.s.page
        deadline = time.monotonic() + (
            self.s.settings.action_timeout.total_seconds() if self.marker(page) else SETTLE_S
        )
        while True:
            if self.signed_out(page):
                return False
            marker = self.marker(page)
            if marker is not None and marker.count():
                return True
            if time.monotonic() >= deadline:
                return marker is None
            page.wait_for_timeout(100)

    # --- signing in ------------------------------------------------------------------------
    def login(self, *, back_to: str | None = None) -> bool:
        """Sign in unless signed in; returns whether it signed in. See the module docstring.

        Raises:
            LoginFailed: the site refused (its message quoted), or asked for a code opskit cannot give.
            UsageError: the source has no ``username_env``/``password_env``.
        """
        s, src = self.s, self.s.source
        if not (src.username_env and src.password_env):
            raise UsageError(f"source '{s.name}' needs username_env and password_env to sign in")
        user, password = s.ctx.secret(src.username_env), s.ctx.secret(src.password_env)
        back_to = back_to or s.shared.intended
        s.pause_trace()

        def sent(request: Any) -> None:  # left out of any trace, whenever their answers arrive
            s.shared.signin_requests.add((str(request.method).upper(), str(request.url)))

        s.context.on("request", sent)
        try:
            signed = call_with_retries(
                lambda: self._once(user, password), s.backoff, retry_on_exception=lambda e: isinstance(e, ServerError)
            )
        finally:
            s.context.remove_listener("request", sent)
            s.resume_trace()
        if not signed:
            return False
        s.shared.logins += 1
        save_storage_state(s.context, s.state_path)
        page = s.page
        if back_to and not same_page(page.url, back_to) and not back_to.startswith("about:"):
            s.begin(f"return to {back_to}")
            page.goto(back_to)
        log.info("signed in to %s", s.name)
        return True

    def _once(self, user: str, password: str) -> bool:
        s = self.s
        page = s.page
        if page.url.startswith("about:"):
            s.begin(f"open {self.recipe.path or '/'}")
            s.check_response(page.goto(s.url(self.recipe.path or "/")))
        form_page = self._find_form(page)
        if form_page is None:
            return False
        log.info("signing in to %s at %s", s.name, s.safe(form_page.url))
        before = self._alerts(form_page)
        self._fill(form_page, user, password)
        found = self._outcome(form_page, before, step="password")
        if found == "error":
            raise self.refused(form_page, before)
        if found == "otp":
            if not self.recipe.otp_env:
                raise LoginFailed(
                    f"{form_page.url} asks for a one-time code", hint=f"Set sources.{s.name}.browser.login.otp_env"
                )
            otp_field = self._otp(form_page)
            s.begin("fill one-time code")
            code = s.ctx.secret(self.recipe.otp_env)
            before = self._alerts(form_page)
            otp_field.fill(code)
            self._submit(form_page, otp_field, self.part("otp_submit"))
            if self._outcome(form_page, before, step="otp", field=otp_field) == "error":
                raise LoginFailed(
                    f"the one-time code was refused at {form_page.url}: '{self._error_text(form_page, before, True)}'",
                    hint=f"Check {self.recipe.otp_env}",
                )
        return True

    def _find_form(self, page: Any) -> Any | None:
        """The page (this one or a pop-up) showing the sign-in form; None when signed in already."""
        s = self.s
        deadline = time.monotonic() + (s.settings.action_timeout.total_seconds() if self.marker(page) else SETTLE_S)
        tried_path = False
        while True:
            if self.form(page).count():
                return page
            marker = self.marker(page)
            if marker is not None and marker.count():
                return None
            opener = self.opener(page) or None
            if opener is not None and opener.count():
                return self._open(page, opener)
            if time.monotonic() >= deadline:
                if self.recipe.path and not tried_path:
                    tried_path = True
                    s.begin(f"open {self.recipe.path}")
                    s.check_response(page.goto(s.url(self.recipe.path)))
                    deadline = time.monotonic() + s.settings.action_timeout.total_seconds()
                    continue
                generic = self.opener(page, generic=True)
                if generic is not None and generic.count() and marker is None:
                    return self._open(page, generic)
                return None
            page.wait_for_timeout(100)

    def _open(self, page: Any, opener: Any) -> Any:
        """Click the button that shows the form; the pop-up it opened, or this page."""
        s = self.s
        s.begin("open the sign-in form")
        s.shared.expecting_popup += 1
        try:
            with s.context.expect_page(timeout=2000) as info:
                opener.first.click()
            popup = info.value
        except Exception:  # no window opened: the form shows in place
            popup = None
        finally:
            s.shared.expecting_popup -= 1
        target = popup or page
        s.begin("wait for the sign-in form")
        target.locator(self.part("form") or PASSWORD).filter(visible=True).first.wait_for(
            timeout=s.settings.action_timeout.total_seconds() * 1000
        )
        return target

    def _fill(self, page: Any, user: str, password: str) -> None:
        s = self.s
        pw_css = self.part("password")
        pw = page.locator(pw_css).first if pw_css else page.locator(PASSWORD).filter(visible=True).first
        user_css = self.part("username")
        if user_css:
            user_field = page.locator(user_css).first
        else:
            user_field = pw.locator(USERNAME_BEFORE)
            if not user_field.count():
                user_field = page.locator(USERNAME).filter(visible=True).first
        s.begin("fill username", "username", user_css or "(found on the page)")
        if user_css or user_field.count():
            user_field.fill(user, timeout=s.timeout_ms())
        s.begin("fill password", "password", pw_css or PASSWORD)
        pw.fill(password, timeout=s.timeout_ms())
        s.shared.secret_fields.add(pw_css or PASSWORD)
        self._submit(page, pw, self.part("submit"))

    def _submit(self, page: Any, field: Any, submit_css: str | None) -> None:
        s = self.s
        s.begin("submit the sign-in form", "submit", submit_css)
        # The click waits for the page load it starts: a navigation's time, not an element's.
        timeout = max(s.settings.action_timeout, s.settings.navigation_timeout).total_seconds() * 1000
        if submit_css:
            page.locator(submit_css).first.click(timeout=timeout)
            return
        button = field.locator("xpath=ancestor::form[1]").locator(SUBMIT_IN_FORM).filter(visible=True)
        if button.count():
            button.first.click(timeout=timeout)
        else:
            field.press("Enter")

    def _otp(self, page: Any) -> Any:
        css = self.part("otp")
        return page.locator(css).first if css else page.locator(OTP).filter(visible=True).first

    def _alerts(self, page: Any) -> set[str]:
        """The refusal-like messages already showing (a permanent banner is not a refusal)."""
        try:
            return {t.strip() for t in page.locator(self.part("error") or ERROR).filter(visible=True).all_inner_texts()}
        except Exception:
            return set()

    def _error_text(self, page: Any, before: set[str], otp: bool = False) -> str:
        css = (self.part("otp_error") if otp else None) or self.part("error") or ERROR
        try:
            texts = [t.strip() for t in page.locator(css).filter(visible=True).all_inner_texts()]
        except Exception:
            return ""
        return next((t for t in texts if t and t not in before), "")

    def _outcome(self, form_page: Any, before: set[str], *, step: str, field: Any = None) -> str:
        """Wait for what the site said: "signed_in", "error", or "otp" (a one-time code is asked).

        ``step`` is "password" (the form was submitted) or "otp" (the code was); ``field`` is the field whose
        going away means the step was accepted (default: the sign-in form).
        """
        otp = step == "otp"
        s = self.s
        page = s.page
        s.begin("check sign-in")
        deadline = time.monotonic() + max(s.settings.action_timeout, s.settings.navigation_timeout).total_seconds()
        server_error = s.selectors.resolve("server_error")
        while True:
            popup_gone = form_page is not page and form_page.is_closed()
            marker = self.marker(page)
            if marker is not None and _safe_count(marker):
                return "signed_in"
            if not popup_gone:
                if _safe_count(form_page.locator(server_error)):
                    s.check_page(page=form_page)
                if self._error_text(form_page, before, otp=otp):
                    return "error"
                if not otp and _safe_count(self._otp_locator(form_page)) and not _safe_count(self.form(form_page)):
                    return "otp"
                gone = field is None and not _safe_count(self.form(form_page))
                gone = gone or (field is not None and not _safe_count(field.filter(visible=True)))
            else:
                gone = True
            if gone and marker is None:
                if not popup_gone:
                    try:
                        form_page.wait_for_load_state()
                    except Exception:  # a pop-up that closed itself meanwhile
                        continue
                    if not otp and _safe_count(self._otp_locator(form_page)):
                        return "otp"
                    if self._error_text(form_page, before, otp=otp) or _safe_count(self.form(form_page)):
                        continue  # the same form again, with its message on the way
                if not self.signed_out(page):
                    return "signed_in"
            if time.monotonic() >= deadline:
                raise LoginFailed(
                    f"sign-in at {form_page.url if not popup_gone else page.url} did not finish: "
                    "the site showed neither the signed-in page nor a message",
                    hint=f"Declare sources.{s.name}.browser.login.signed_in (an element only a signed-in page has)",
                )
            page.wait_for_timeout(50)

    def _otp_locator(self, page: Any) -> Any:
        css = self.part("otp")
        return page.locator(css).filter(visible=True) if css else page.locator(OTP).filter(visible=True)

    def refused(self, page: Any, before: set[str]) -> LoginFailed:
        src = self.s.source
        return LoginFailed(
            f"sign-in to {page.url} was refused: '{self._error_text(page, before)}'",
            hint=f"Check {src.password_env} and {src.username_env}",
        )


def same_page(a: str, b: str) -> bool:
    """Whether two URLs show the same page: ``/cases?`` is ``/cases``, query order does not matter."""
    from urllib.parse import parse_qsl, urlsplit

    first, second = urlsplit(a), urlsplit(b)
    return (first.scheme, first.netloc, first.path.rstrip("/") or "/", first.fragment) == (
        second.scheme,
        second.netloc,
        second.path.rstrip("/") or "/",
        second.fragment,
    ) and sorted(parse_qsl(first.query, keep_blank_values=True)) == sorted(
        parse_qsl(second.query, keep_blank_values=True)
    )


def _safe_count(locator: Any) -> int:
    try:
        return int(locator.count())
    except Exception:  # the document is being replaced
        return 0
