"""``runner.py db upgrade`` and ``runner.py db copy --to URL``: the history's schema and its move to PostgreSQL.

``upgrade`` brings the configured history to the newest schema (every command does that when it opens the
history; this one says what it did, for a deploy script). ``copy`` copies a history (by default the SQLite
file ``<var>/history.sqlite``) into another (by default the configured ``history:`` URL): one command,
safe to run again. URLs are printed without their password; give the password in the URL through the
config's ``${VAR}``, or in ``PGPASSWORD`` (libpq reads it), never on the command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from opskit.errors import UsageError


def add_db_parser(parser: argparse.ArgumentParser, parser_class: Any) -> None:
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", parser_class=parser_class, required=True)
    sub.add_parser("upgrade", help="bring the history to the newest schema (Alembic migrations)")
    copy = sub.add_parser("copy", help="copy a history (default: the SQLite file) into another (PostgreSQL)")
    copy.add_argument("--to", dest="to", metavar="URL", help="the target (default: the config's history: URL)")
    copy.add_argument("--from", dest="source", metavar="PATH_OR_URL", help="the source (default: <var>/history.sqlite)")


def db_command(config: Any, args: argparse.Namespace) -> int:
    from opskit.engine.database import is_url, redact_url  # on use: the parser is built for every command

    if args.db_command == "upgrade":
        from opskit.engine.history import RunStore  # on use: the parser is built for every command

        with RunStore(config.history_target, upgrade=False) as store:
            before, after = store.upgrade_schema()
        where = redact_url(config.history_target)
        if before == after:
            print(f"history {where}: schema already at revision {after}")
        else:
            print(f"history {where}: schema upgraded from {before or 'none (a new or pre-Alembic history)'} to {after}")
        return 0
    from opskit.engine.history_copy import copy_history  # on use: the parser is built for every command

    source: Path | str = args.source or config.history_path
    if isinstance(source, str) and not is_url(source):
        source = Path(source)
    target = args.to or config.history_target
    if not is_url(target):
        raise UsageError(
            "db copy: give the target as --to postgresql://USER@HOST/DB (or set history: to that URL)",
            hint="The password comes from PGPASSWORD or from the config's ${VAR}, never from the command line",
        )
    if isinstance(source, Path) and not source.exists():
        raise UsageError(f"db copy: there is no history file {source}")
    report = copy_history(source, target)
    for name, (total, added) in report.tables.items():
        print(f"  {name:<14} {total:>8} row(s), {added:>8} copied, {total - added:>8} already there")
    print(f"copied {report.added} row(s) from {redact_url(source)} to {redact_url(target)}")
    return 0
