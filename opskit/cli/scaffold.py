"""``runner.py new NAME [--kind KIND]``: a new task, its report email and a test that runs it, ready to edit.

Each kind is a working example of one sort of chore, and its test passes as written:

- ``report`` (default): a period's cases to a workbook with KPIs against a target, and the KPI email;
- ``browser``: sign in to a web app, enter each row of a workbook through its form, read its table back,
  a screenshot, a workbook and the email; with a sample web app (``tests/sites/NAME/``) its test runs on;
- ``api``: a JSON API's pages (bearer token, cursor) into a CSV and a workbook;
- ``excel``: every workbook of an inbox folder merged, with what was left out and why.

The files come from ``opskit/cli/scaffold_templates/`` (``$name``, ``$title``, ``$NAME`` and ``$note``
filled in) and land beside the config: the task in its tasks folder (``paths.tasks``), the email in
``templates/email/``, the test in ``tests/tasks/``. Writing is all-or-nothing: every file goes to
a temporary name in its folder first and is renamed into place only when all of them are written,
so a bad name, an existing file or a full disk leaves the project as it was.
"""

from __future__ import annotations

import builtins
import keyword
import os
import re
import string
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from opskit.errors import UsageError
from opskit.tasks import discover

TEMPLATES = Path(__file__).resolve().parent / "scaffold_templates"
NAME_FORM = re.compile(r"[a-z][a-z0-9_]*")
# A name is a file name (``test_NAME.py`` is the longest) and fits any file system's 255 bytes with room.
MAX_NAME = 64
# Module-level names of the task templates: a task called ``csv`` would shadow the csv module.
TEMPLATE_NAMES = {"csv", "random", "datetime", "timedelta", "task"}
KINDS = ("report", "browser", "api", "excel")
NOTES = {
    "report": "Average handle time is over the cases completed in {{ period_label }}. The attached workbook "
    "lists every queue.",
    "browser": "Every row of the workbook was entered through the app's form. The attached workbook lists them "
    "and what the app lists afterwards; the screenshot shows the app.",
    "api": "The attached workbook and CSV hold every record the API returned for {{ period_label }}.",
    "excel": "The attached workbook merges every file of the inbox; its Problems sheet lists what was left "
    "out, and why.",
}


@dataclass(frozen=True, slots=True)
class Planned:
    """One file the scaffold writes: where, from which template, and what it is for."""

    path: Path
    template: str
    what: str


def check_name(name: str) -> None:
    """Refuse a name that cannot be a task's module and function name.

    Raises:
        UsageError: longer than ``MAX_NAME``, not lowercase letters, digits and ``_`` starting with a letter, a Python
            keyword, a builtin, or a name the task module itself uses.
    """
    if len(name) > MAX_NAME:
        raise UsageError(
            f"the task name is {len(name)} characters long; at most {MAX_NAME}",
            hint="A task's name is its file name and a job refers to it: keep it short (e.g. backlog_snapshot)",
        )
    if not NAME_FORM.fullmatch(name):
        raise UsageError(
            f"'{name}' is not a valid task name",
            hint="Use lowercase letters, digits and _, starting with a letter (e.g. backlog_snapshot)",
        )
    if keyword.iskeyword(name):
        raise UsageError(
            f"'{name}' is a Python keyword, so it cannot name a task", hint=f"Pick another name, e.g. {name}_report"
        )
    if name in TEMPLATE_NAMES or hasattr(builtins, name):
        raise UsageError(
            f"'{name}' would hide a Python name the task module uses", hint=f"Pick another name, e.g. {name}_report"
        )


def plan(name: str, config_path: Path, kind: str = "report") -> list[Planned]:
    """The files ``new NAME --kind KIND`` writes for a project whose config is ``config_path``."""
    from opskit.config.file import read_config_file  # on use: `runner.py list` stays light

    if kind not in KINDS:
        raise UsageError(f"'{kind}' is not a kind of task", hint=f"Use one of {', '.join(KINDS)}")
    root = Path(config_path).resolve().parent
    tasks_dir = read_config_file(config_path, interpolate=False).path_setting("tasks")
    prefix = "" if kind == "report" else f"{kind}_"
    files = [
        Planned(tasks_dir / f"{name}.py", f"{prefix}task.py.tmpl", "the task: a working example to edit"),
        Planned(root / "templates" / "email" / f"{name}.html", "email.html.tmpl", "its report email (HTML)"),
        Planned(root / "templates" / "email" / f"{name}.txt", "email.txt.tmpl", "its report email (text)"),
        Planned(
            root / "tests" / "tasks" / f"test_{name}.py",
            "test_task.py.tmpl" if kind == "report" else f"{kind}_test.py.tmpl",
            "a test that runs it and opens what it wrote",
        ),
    ]
    if kind == "browser":
        site = root / "tests" / "sites" / name / "index.html"
        files.append(Planned(site, "site.html.tmpl", "a sample web app its test runs against"))
    return files


def scaffold_task(name: str, *, config_path: Path, force: bool = False, kind: str = "report") -> int:
    """Write a new task ``name`` of ``kind`` with its email templates and test, then say what to do next.

    Returns:
        0 (the CLI's exit code).

    Raises:
        UsageError: a bad name or kind, a task of that name in another file, or a file that exists
            (without ``force``); nothing is written.
        ConfigError: the config file is missing or is not valid YAML.
    """
    check_name(name)
    files = plan(name, config_path, kind)
    tasks_dir = files[0].path.parent
    other = _defined_elsewhere(name, tasks_dir)
    if other is not None:
        raise UsageError(f"a task '{name}' is already defined in {other}", hint="Pick another name")
    existing = [f.path for f in files if f.path.exists()]
    if existing and not force:
        raise UsageError(
            f"{_shown(existing[0], config_path)} already exists",
            hint="Pick another name, or pass --force to overwrite "
            + ", ".join(_shown(p, config_path) for p in existing),
        )
    values = {"name": name, "title": name.replace("_", " ").capitalize(), "NAME": name.upper(), "note": NOTES[kind]}
    contents = {
        f.path: string.Template((TEMPLATES / f.template).read_text(encoding="utf-8")).substitute(values) for f in files
    }
    write_all(contents)
    _say(next_steps(name, files, config_path, kind))
    return 0


def write_all(contents: dict[Path, str]) -> None:
    """Write every file to a temporary name beside it, then rename them all into place.

    On any failure the temporary files, the files renamed so far that did not exist before, and
    the folders this call created are removed again.
    """
    made_dirs: list[Path] = []
    temps: dict[Path, Path] = {}
    renamed: list[Path] = []
    umask = os.umask(0)
    os.umask(umask)
    try:
        for target, text in contents.items():
            for folder in reversed([target.parent, *target.parent.parents]):
                if not folder.exists():
                    folder.mkdir()
                    made_dirs.append(folder)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent)
            temps[target] = Path(tmp_name)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp's 0600 would hide the files from the team
        for target, tmp in temps.items():
            existed = target.exists()
            os.replace(tmp, target)
            if not existed:
                renamed.append(target)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        for target in renamed:
            target.unlink(missing_ok=True)
        for folder in reversed(made_dirs):
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty: something else wrote there meanwhile
        raise


def next_steps(name: str, files: list[Planned], config_path: Path, kind: str = "report") -> str:
    """What ``new`` prints: the files it created and how to take the task into service."""
    from opskit.config.file import default_config_path  # on use: `runner.py list` stays light

    runner = "python runner.py"
    if Path(config_path).resolve() != default_config_path().resolve():
        runner += f" --config {config_path}"
    job = name.replace("_", "-")
    width = max(len(_shown(f.path, config_path)) for f in files)
    lines = [f"created {_shown(f.path, config_path):<{width}}  {f.what}" for f in files]
    test = _shown(files[3].path, config_path)
    first = {
        "report": [
            f"  1. Run it once:  {runner} run {name} -p period=yesterday",
            f"     and its test: python -m pytest {test}",
        ],
        "api": [
            f"  1. Run its test: python -m pytest {test}   (against a local Moderation Console)",
            f"     and once for real: {runner} run {name} -p source=console -p period=yesterday",
        ],
        "excel": [
            f"  1. Run its test: python -m pytest {test}",
            f"     then drop workbooks into data/inbox/{name}/ and run it: {runner} run {name}",
        ],
        "browser": [
            f"  1. Run its test: python -m pytest {test}   (against the sample app in tests/sites/{name}/)",
            f"     To try it by hand: python -m http.server 8800 -d tests/sites/{name}, add the source below,",
            f"     put a workbook (item, decision, note) at data/{name}/to_enter.xlsx, and",
            f"     {runner} run {name}",
            f"     For your own app: {runner} inspect {name}_site '#/new' prints its selectors.",
        ],
    }[kind]
    lines += [
        "",
        "Next steps:",
        *first,
        "  2. Make it yours: edit the task, then add to config.yaml:",
        "",
        *("       " + line for line in job_yaml(name, job, kind).splitlines()),
        "",
        f"  3. Check it:     {runner} validate",
        f"                   {runner} next {job}",
        f"  4. Schedule it:  {runner} schedule   (or restart the scheduler service)",
    ]
    return "\n".join(lines) + "\n"


def job_yaml(name: str, job: str, kind: str = "report") -> str:
    """The config.yaml a new task needs (its job, and for a browser task its source), as ``new`` suggests it."""
    params = {"report": "      period: yesterday\n", "api": "      period: yesterday\n      source: console\n"}
    attach = '["*.xlsx", "*.png"]' if kind == "browser" else '["*.xlsx"]'
    text = (
        "jobs:\n"
        f"  {job}:\n"
        f"    description: {name.replace('_', ' ').capitalize()}, every weekday morning.\n"
        f"    task: {name}\n"
        "    schedule: every weekday at 08:00\n"
        + ("    params:\n" + params[kind] if kind in params else "")
        + "    timeout: 10m\n"
        "    email:\n"
        "      to: [ops-leads@example.com]\n"
        f"      template: email/{name}.html\n"
        f"      attach: {attach}\n"
    )
    if kind == "browser":
        env = name.upper()
        text = (
            "sources:\n"
            f"  {name}_site:\n"
            "    url: http://127.0.0.1:8800\n"
            f"    username_env: {env}_USER        # set them in .env: {env}_USER=you@example.com\n"
            f"    password_env: {env}_PASSWORD    # and {env}_PASSWORD=demo-password\n"
            "    browser:\n"
            "      selectors:                    # the names the task uses -> your app's elements\n"
            "        item: label=Item\n"
            "        decision: label=Decision\n"
            "        note: label=Note\n"
            "        save: 'role=button[name=\"Save\"]'\n"
            "        saved: .saved\n"
            "        save_failed: .save-failed\n"
            "        items: 'role=table[name=\"Items\"]'\n"
        ) + text
    return text


def _defined_elsewhere(name: str, tasks_dir: Path) -> Path | None:
    """The file of another module that defines a task called ``name`` (``@task(name=...)``)."""
    if not tasks_dir.is_dir():
        return None

    spec = discover(tasks_dir).tasks.get(name)
    if spec is None or spec.path.resolve() == (tasks_dir / f"{name}.py").resolve():
        return None
    return spec.path


def _shown(path: Path, config_path: Path) -> str:
    """A path as the user would type it: relative to the config's folder when inside it."""
    try:
        return str(path.relative_to(Path(config_path).resolve().parent))
    except ValueError:
        return str(path)


def _say(text: str) -> None:
    # The CLI prints what its commands return; ``new`` has only this to say, on stdout.
    sys.stdout.write(text)
