"""``runner.py inspect SOURCE [PATH]``: open a page of a source headless and print a ``selectors:`` block.

It signs in as a run would (``--no-login`` to look at the page as it is), waits for the page to settle,
and lists the form fields (with their labels), buttons, links and tables it found, each with the most
robust selector that matches it alone: test id, then role and name, then label, then id, CSS last. The
block goes to stdout, ready to paste under ``sources.<name>.browser``; what the browser did goes to stderr.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from opskit.browser.scan import scan, with_selectors
from opskit.context import RunContext
from opskit.errors import ConfigError, did_you_mean
from opskit.files import private_dir
from opskit.redact import Redactor

if TYPE_CHECKING:
    from opskit.browser.scan import Candidate
    from opskit.config.model import Config

SECTIONS = (("field", "form fields"), ("button", "buttons"), ("link", "links"), ("table", "tables"))
_NAME_WIDTH = 24


def inspect_command(config: Config, args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the ``selectors:`` block of ``args.source`` at ``args.path`` (see the module docstring).

    Raises:
        ConfigError: an unknown source (with a "did you mean").
        SourceUnavailable, BrowserError, LoginFailed: as a run of a browser task would.
    """
    out = out or sys.stdout
    sources = config.settings.sources
    if args.source not in sources:
        raise ConfigError(
            f"unknown source '{args.source}'",
            hint=did_you_mean(args.source, sources) or f"Sources in {config.path.name}: {', '.join(sources) or 'none'}",
        )
    source = sources[args.source]
    login = not args.no_login and bool(source.username_env and source.password_env)
    ctx = _context(config)
    try:
        with ctx.browser(args.source, login=login) as s:
            s.goto(args.path)
            _settle(s.page)
            if login and s.signin.signed_out():  # a form an app showed once it had fetched
                s.login()
                _settle(s.page)
            found = _found(s.page, include_hidden=args.all)
            url = s.page.url
    finally:
        if not (ctx.folder / "failure").exists():
            shutil.rmtree(ctx.folder, ignore_errors=True)
    out.write(render(args.source, args.path, url, found))
    return 0


def _context(config: Config) -> Any:
    """A RunContext for looking at a page: a private scratch folder, the config's sources and secrets."""
    import logging

    folder = tempfile.mkdtemp(prefix="inspect-", dir=private_dir(config.var_dir / "inspect"))
    redactor = Redactor(set(config.secrets))
    logger = logging.getLogger("opskit.inspect")
    return RunContext(
        run_id="inspect",
        job=None,
        task="inspect",
        params={},
        scheduled_for=datetime.now(UTC),
        tz=config.settings.timezone,
        folder=Path(folder),
        data_dir=config.data_dir,
        sources=dict(config.settings.sources),
        state_dir=config.var_dir / "state",
        log=logger,
        redactor=redactor,
    )


def _settle(page: Any) -> None:
    """Wait until the page has stopped fetching (an app rendering its data), three seconds at most."""
    try:
        page.wait_for_load_state("networkidle", timeout=3000)
    except Exception:  # an app that never stops polling: what is there now will do
        pass


def _found(page: Any, *, include_hidden: bool) -> list[Candidate]:

    candidates = [c for c in scan(page) if c.kind != "other" and (c.visible or include_hidden)]
    return with_selectors(page, candidates)


def render(source: str, path: str, url: str, found: list[Candidate]) -> str:
    """The ``selectors:`` block: one line per element, grouped by kind, each with what it is."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# runner.py inspect {source} {path}  ({url}, {when})",
        f"# Paste under sources.{source}.browser in config.yaml; rename the names as you like.",
        "selectors:",
    ]
    taken: set[str] = set()
    for kind, title in SECTIONS:
        mine = [c for c in found if c.kind == kind]
        if not mine:
            continue
        lines.append(f"  # {title}")
        for cand in mine:
            name = _unique(logical_name(cand), taken)
            entry = f"  {name}: {yaml_text(cand.selector)}"
            lines.append(f"{entry:<{_NAME_WIDTH + 40}}  # {_comment(cand)}")
    if len(lines) == 3:
        lines.append("  {}  # nothing found: is the page still loading? Try --all, or another PATH")
    return "\n".join(lines) + "\n"


def logical_name(cand: Candidate) -> str:
    """A snake_case name from what people call the element: its label or text, test id, id or name."""
    for text in (cand.label, cand.text, cand.testid, cand.id, cand.name, cand.placeholder, *cand.headers[:1]):
        words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text or "").lower())
        if words:
            name = "_".join(words[:4])
            if cand.kind == "table" and not name.endswith("table"):
                name += "_table"
            return name if name[0].isalpha() else f"{cand.kind}_{name}"
    return cand.kind


def yaml_text(value: str) -> str:
    """A YAML scalar for ``value``: single-quoted (quotes doubled) unless it is plain text."""
    if re.fullmatch(r"[A-Za-z_#.][\w#.\-]*", value):
        return value
    return "'" + value.replace("'", "''") + "'"


def _comment(cand: Candidate) -> str:
    text = cand.describe()
    if cand.options:
        text += " (" + ", ".join(cand.options[:5]) + (", ..." if len(cand.options) > 5 else "") + ")"
    return text + ("" if cand.visible else " [hidden]")


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate
