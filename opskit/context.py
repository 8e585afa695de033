"""RunContext: everything a running task gets, so that tasks hold no plumbing.

A task never reads config.yaml, opens SMTP connections or launches browsers by hand: it asks the context.
Secrets read through ``ctx.secret`` are redacted from every log line and every stored error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from opskit.browser.launch import browser_session
from opskit.errors import ConfigError, did_you_mean
from opskit.files import PRIVATE_FILE, atomic_path
from opskit.redact import Redactor
from opskit.result import Result, merged_summary

if TYPE_CHECKING:
    from opskit.config.model import SourceConfig
    from opskit.config.vendors import VendorReports
    from opskit.sources.api import ApiClient
    from opskit.sources.http import RetryingSession

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


@dataclass
class RunContext:
    """What a running task receives: its parameters, its folder, its log, and helpers.

    Attributes:
        run_id: The history id of this run.
        job: The job's name, or None when a bare task is run by hand.
        params: The validated parameters (also passed to the task as keyword arguments).
        scheduled_for: The slot this run is for; periods resolve against it, never against the wall clock.
        tz: The job's timezone.
        folder: This run's own folder for artifacts and outputs.
        data_dir: The shared data folder for files that later jobs read (e.g. data/cases/).
        sources: The internal tools of config.yaml, by name.
        state_dir: Where jobs keep memory between runs (``load_state``/``save_state``).
        options: Run options from the command line (``headed``, ``slowmo``).
        steps: In a job with steps, the results of the steps before this one, by step name.
        report_step: In a job with steps, the step whose summary the job's report is built from.
        vendor_reports: config.yaml's ``vendor_reports:`` (how vendor files are read); None: the defaults.
    """

    run_id: str
    job: str | None
    task: str
    params: dict[str, Any]
    scheduled_for: datetime
    tz: ZoneInfo
    folder: Path
    data_dir: Path
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    state_dir: Path = field(default_factory=lambda: Path("var/state"))
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("opskit.task"))
    redactor: Redactor = field(default_factory=Redactor)
    options: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, Result] = field(default_factory=dict)
    report_step: str | None = None
    vendor_reports: VendorReports | None = None
    _temp_files: set[Path] = field(default_factory=set, repr=False)
    _http: Any = field(default=None, repr=False)

    def secret(self, name: str) -> str:
        """A secret from the environment (or .env); redacted from every log line from now on.

        Raises:
            ConfigError: the variable is not set; the message names it and the job.
        """
        value = os.environ.get(name)
        if not value:
            who = f"job '{self.job}'" if self.job else f"task '{self.task}'"
            raise ConfigError(
                f"environment variable {name} is not set (needed by {who})",
                hint="Set it in the environment or in .env beside config.yaml",
            )
        self.redactor.add(value)
        return value

    def source(self, name: str) -> SourceConfig:
        if name not in self.sources:
            raise ConfigError(
                f"unknown source '{name}'",
                hint=did_you_mean(name, self.sources) or f"Sources in config.yaml: {', '.join(self.sources) or 'none'}",
            )
        return self.sources[name]

    @property
    def http(self) -> RetryingSession:
        """A requests Session with a default timeout, retrying connection errors, 429 and 5xx with backoff
        (honouring Retry-After) by ``opskit.sources.retry``'s rules. Created on first use."""
        if self._http is None:
            from opskit.sources.http import RetryingSession  # requests loads only when used (start-up time)

            self._http = RetryingSession()
        return self._http

    def api(self, source: str, *, retries: int = 5) -> ApiClient:
        """A client for ``source``'s JSON API: its url, bearer token, timeout and TLS setting from config.yaml.

        The token is read from the source's ``token_env`` with ``secret`` (so it is redacted from every
        log line); a source without ``token_env`` gets a client that sends none. Requests are retried by
        ``opskit.sources.retry``'s rules (``retries`` extra attempts). Use it in a ``with`` block, or
        ``close()`` it, so its connections are released.
        """
        from opskit.sources.api import ApiClient  # requests loads only when a task asks (start-up time)

        src = self.source(source)
        token = self.secret(src.token_env) if src.token_env else None
        return ApiClient(src.url, token, timeout=src.timeout.total_seconds(), retries=retries, verify=src.verify_tls)

    def browser(self, source: str | None = None, **kwargs: Any) -> Any:
        """A browser ``Session`` on ``source``'s web app (signed in per its config), as a context manager.

        ``with ctx.browser("console") as s: s.goto("/cases"); s.click("search_button")`` (docs/browser.md):
        the browser and all its processes are closed when the block ends, fails or is interrupted; on
        failure a masked screenshot, the page and the failing step are saved in the run's ``failure/``.
        """

        return browser_session(self, source, **kwargs)

    @property
    def state_path(self) -> Path:
        """Where this job's memory between runs lives (e.g. sla_watch's last known states)."""
        return self.state_dir / f"{self.job or self.task}.json"

    def load_state(self) -> dict[str, Any]:
        """What the previous run of this job saved with ``save_state``; empty the first time."""
        import json

        try:
            return dict(json.loads(self.state_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}

    def save_state(self, state: dict[str, Any]) -> None:
        """Keep ``state`` for the next run of this job (written atomically)."""
        import json

        with self.output(self.state_path) as tmp:
            tmp.write_text(json.dumps(state, indent=2, default=str), encoding="utf-8")

    def path(self, name: str) -> Path:
        """A path inside this run's folder."""
        return self.folder / name

    @contextmanager
    def output(self, target: str | Path) -> Iterator[Path]:
        """Write to a temporary name beside ``target``, then rename into place when the block succeeds.

        A relative ``target`` is inside the run folder. A crash, an error or Ctrl-C leaves no half-written
        file where a reader would find it.
        """
        final = Path(target) if Path(target).is_absolute() else self.folder / target
        with atomic_path(final, mode=PRIVATE_FILE) as tmp:
            self._temp_files.add(tmp)
            try:
                yield tmp
            finally:
                self._temp_files.discard(tmp)

    def steps_summary(self) -> dict[str, Any]:
        """The summaries of the steps before this one, merged as the run's result merges them: the job's
        ``report_step`` wins every key it gives, the other steps fill in. Empty outside a job with steps."""
        return merged_summary(self.steps.values(), report=self.steps.get(self.report_step or ""))

    def summary_sections(self, summary: Mapping[str, Any]) -> dict[str, Any]:
        """What the report email shows of a summary, for a document of the same run: ``kpis``, ``missed``
        and ``drivers`` (checked and filled in as the email has them; README, "What a report task
        returns"), and ``chart_data_uri``, the trend as an inline PNG ("" when there is none).

        Raises:
            TaskError: the summary does not follow the convention; the message names the key.
        """
        import base64

        # deferred: `import opskit` (every task module, `runner.py list`) does not load delivery
        from opskit.delivery.report import summary_sections, trend_chart

        chart = trend_chart(summary)
        uri = "data:image/png;base64," + base64.b64encode(chart).decode() if chart else ""
        return {**summary_sections(summary), "chart_data_uri": uri}

    def render(self, template: str, context: Mapping[str, Any] | None = None) -> str:
        """A template from templates/ (e.g. ``docs/weekly_review.html``), rendered in the job's timezone.

        The template also sees ``job``, ``run_id`` and ``generated_at`` (the scheduled time) unless
        ``context`` gives its own. HTML templates are autoescaped: text from a source never becomes markup.

        Raises:
            TemplateError: the template is missing, does not parse, or uses a name it was not given.
        """
        from opskit.delivery.render import Renderer  # deferred, as in summary_sections

        values = {"job": self.job or self.task, "run_id": self.run_id, "generated_at": self.scheduled_for}
        return Renderer(timezone=self.tz).render(template, {**values, **(context or {})})

    def render_pdf(
        self,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        name: str,
        page_format: str = "A4",
        landscape: bool = False,
    ) -> Path:
        """``render`` an HTML template and print it to PDF in headless Chromium, as ``name`` in the run folder.

        Written like every output (``output``): under a temporary name, renamed into place once complete,
        so a failed or interrupted print leaves what was there before, never half a PDF.

        Raises:
            TemplateError: as ``render``.
            BrowserMissing: no Chromium to print with; the message says what to install.
        """
        from opskit.delivery.render import html_to_pdf  # deferred, as in summary_sections

        html = self.render(template, context)
        with self.output(name) as tmp:
            html_to_pdf(html, tmp, page_format=page_format, landscape=landscape)
        return self.path(name)

    def cleanup(self) -> None:
        """Remove temporary files of outputs that never completed (an interrupted run)."""
        for tmp in list(self._temp_files):
            tmp.unlink(missing_ok=True)
        self._temp_files.clear()
        if self._http is not None:
            self._http.close()
