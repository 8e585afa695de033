"""Jinja2 rendering for emails and documents: filters, CSS inlining, HTML to PDF.

One ``Renderer`` per job: it knows the templates folder and the job's timezone, so ``localtime`` shows
the reader's clock. Templates ending in .html/.htm are autoescaped (content from users is hostile, see
DOMAIN.md), text and Markdown templates are not. Undefined names fail at render time with the template
file and line, before anything is sent.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from opskit.browser.chromium import launch_options
from opskit.delivery.formats import delta_parts, duration, missing, num, pair, pct, value
from opskit.errors import ConfigError, TaskError
from opskit.files import atomic_path

if TYPE_CHECKING:
    from opskit.config.model import Config, JobConfig

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

GOOD_COLOUR = "#1a7f37"
BAD_COLOUR = "#c62828"
FLAT_COLOUR = "#57606a"


class TemplateError(ConfigError):
    """A template does not parse or uses a name it was not given; ``where`` is 'file:line'."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """An email body in both forms: HTML with CSS inlined, and its own plain-text version."""

    html: str
    text: str


# --------------------------------------------------------------------------------------------- filters

# The formats live in formats.py; these names stay importable from here for templates' tests and tools.
__all__ = ["RenderedEmail", "Renderer", "TemplateError", "delta_parts", "duration", "na", "num", "pct"]


def na(value: Any, text: str = "n/a") -> Any:
    """The value, or "n/a" for None/NaN (a ratio over zero is empty, never 0)."""
    return text if missing(value) else value


def _delta(eval_ctx: Any, change: Any, direction: str = "higher_is_better", kind: str = "pct") -> Any:
    """▲/▼ change, green when good and red when bad for the metric's direction; grey when neutral.

    HTML templates get Markup with an inline colour (emails cannot rely on classes); text templates get
    the words instead, "▲ 5.2% (worse)", because colour is all a plain-text reader would miss. A neutral
    metric (workload) gets neither colour nor word.
    """
    from markupsafe import Markup, escape

    text, verdict = delta_parts(change, direction, kind)
    if not eval_ctx.autoescape:
        return f"{text} ({verdict})" if verdict in ("better", "worse") else text
    colour = {"better": GOOD_COLOUR, "worse": BAD_COLOUR}.get(verdict, FLAT_COLOUR)
    return Markup('<span style="color:{};font-weight:600;white-space:nowrap">{}</span>').format(colour, escape(text))


# -------------------------------------------------------------------------------------------- renderer


class Renderer:
    """Renders templates from one folder for one job's timezone.

    Args:
        templates_dir: The folder holding ``email/`` and ``docs/``; the repository's ``templates/`` by default.
        timezone: The job's timezone, used by ``localdate`` and ``localtime``.
    """

    def __init__(
        self,
        templates_dir: Path | str | None = None,
        *,
        timezone: str | ZoneInfo = "UTC",
        extra_dirs: tuple[Path, ...] = (),
    ):
        """``extra_dirs`` are searched first: a project's own templates beside its config.yaml override
        and add to the built-in ones (the base layout stays available to extend)."""
        import jinja2

        self.templates_dir = Path(templates_dir) if templates_dir is not None else TEMPLATES_DIR
        self.tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        search = [str(d) for d in extra_dirs if Path(d).is_dir() and Path(d) != self.templates_dir]
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([*search, str(self.templates_dir)]),
            autoescape=jinja2.select_autoescape(["html", "htm"], default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters.update(
            num=num,
            pct=pct,
            duration=duration,
            na=na,
            fmt=value,
            pair=pair,
            delta=jinja2.pass_eval_context(_delta),
            localdate=self.localdate,
            localtime=self.localtime,
        )

    # filters that need the job's timezone
    def _local(self, value: datetime) -> datetime:
        if not isinstance(value, datetime):
            raise TaskError(f"expected a datetime, got {type(value).__name__} {value!r}")
        if value.tzinfo is None:
            raise TaskError(f"naive datetime {value.isoformat()} has no timezone; pass an aware datetime")
        return value.astimezone(self.tz)

    def localdate(self, value: Any, fmt: str = "%Y-%m-%d") -> str:
        """An aware datetime as a date in the job's timezone; None -> "n/a"."""
        return "n/a" if missing(value) else self._local(value).strftime(fmt)

    def localtime(self, value: Any, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
        """An aware datetime as wall-clock time in the job's timezone, with the zone's abbreviation."""
        return "n/a" if missing(value) else self._local(value).strftime(fmt)

    # rendering
    def render(self, name: str, context: Mapping[str, Any] | None = None) -> str:
        """Render one template file by its path under the templates folder ("docs/attribution.md").

        Raises:
            TemplateError: the template is missing, does not parse, or uses an undefined name; the
                message names the file and line.
        """
        import jinja2

        try:
            template = self.env.get_template(name)
            return template.render(**(context or {}))
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"template {exc.name!r} not found under {self.templates_dir}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(exc.message or "syntax error", where=self._where(exc.filename, exc.lineno)) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(str(exc), where=self._where_from_traceback(exc)) from None

    def render_string(self, source: str, context: Mapping[str, Any] | None = None, *, label: str = "<string>") -> str:
        """Render a template string (an email subject from config.yaml); errors name ``label``."""
        import jinja2

        try:
            return self.env.from_string(source).render(**(context or {}))
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(exc.message or "syntax error", where=label) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(str(exc), where=label) from None

    def render_email(self, template: str, context: Mapping[str, Any] | None = None) -> RenderedEmail:
        """The HTML email ``template`` (CSS inlined) and its text twin (same name, ``.txt``).

        Every email has a plain-text part from its own template, never one scraped from the HTML.
        """
        base, ext = os.path.splitext(template)
        if ext not in (".html", ".htm"):
            raise TemplateError(f"email template {template!r} should end in .html")
        html = inline_css(self.render(template, context))
        text = self.render(base + ".txt", context)
        return RenderedEmail(html=html, text=text)

    def render_document(self, name: str, context: Mapping[str, Any] | None = None) -> str:
        """A document from ``docs/`` (HTML or Markdown); ``name`` may omit the ``docs/`` prefix."""
        if not name.startswith("docs/"):
            name = "docs/" + name
        return self.render(name, context)

    # error locations
    def _where(self, filename: str | None, lineno: int | None) -> str:
        path = Path(filename) if filename else None
        if path is not None:
            try:
                shown = str(path.resolve().relative_to(self.templates_dir.resolve().parent))
            except ValueError:
                shown = str(path)
        else:
            shown = "<template>"
        return f"{shown}:{lineno}" if lineno else shown

    def _where_from_traceback(self, exc: BaseException) -> str | None:
        # Jinja rewrites the traceback so that template frames carry the template's file and line;
        # the innermost one is where the undefined name was used (also inside an included file).
        root = str(self.templates_dir.resolve())
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if f.filename and os.path.abspath(f.filename).startswith(root)
        ]
        return self._where(frames[-1].filename, frames[-1].lineno) if frames else None


def job_renderer(config: Config, job: JobConfig | None) -> Renderer:
    """The templates beside config.yaml first, then the built-in ones; times in the job's timezone."""
    return Renderer(timezone=config.job_timezone(job), extra_dirs=(config.root / "templates",))


def inline_css(html: str) -> str:
    """Move <style> rules into style="" attributes, as Outlook and Gmail need; never fetch anything.

    ``@media`` rules stay in a <style> tag for clients that honour them (mobile widths).
    """
    import css_inline

    inliner = css_inline.CSSInliner(
        keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False, keep_link_tags=False
    )
    return inliner.inline(html)


def html_to_pdf(
    html: str,
    out_path: Path | str,
    *,
    page_format: str = "A4",
    landscape: bool = False,
    browser: Any = None,
) -> Path:
    """Print an HTML document to PDF in headless Chromium; written atomically (temp name, then rename).

    Pass ``browser`` (a Playwright Browser) to reuse one already running; otherwise one is launched and
    closed again (about 0.6 s).

    Raises:
        BrowserMissing: no Chromium to drive; the message says what to install.
    """
    from playwright.sync_api import sync_playwright

    out = Path(out_path)
    with atomic_path(out) as tmp:
        if browser is not None:
            _print_pdf(browser, html, str(tmp), page_format, landscape)
        else:
            with sync_playwright() as pw:
                own = pw.chromium.launch(**launch_options(pw))
                try:
                    _print_pdf(own, html, str(tmp), page_format, landscape)
                finally:
                    own.close()
    return out


def _print_pdf(browser: Any, html: str, path: str, page_format: str, landscape: bool) -> None:
    page = browser.new_page()
    try:
        page.set_content(html, wait_until="load")
        page.pdf(
            path=path,
            format=page_format,
            landscape=landscape,
            print_background=True,
            margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
        )
    finally:
        page.close()
