"""Hostile and mistaken config files: alias bombs, oversized or undecodable files, non-ASCII digits.

Each must end in one line naming the file (and line), exit 2 from `runner.py validate`, quickly; and the
scheduler's reload, which reads the same way, must keep the config it runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from opskit.config.file import MAX_CONFIG_BYTES, environment, read_config_file
from opskit.engine.timetable import parse_schedule
from opskit.errors import ConfigError
from opskit.period import Period, PeriodError
from tests.conftest import REPO
from tests.test_daemon import at, make, runs


def billion_laughs(levels: int = 9) -> str:
    lines = ["timezone: Europe/Berlin", 'lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\njobs: {}\n"


HOSTILE = {
    "billion_laughs": (billion_laughs(), "expands to more than 100,000 values"),
    "self_alias": ("timezone: Europe/Berlin\nloop: &a [1, *a]\n", "an alias refers to the node that contains it"),
    "deep": ("timezone: Europe/Berlin\nx: " + "[" * 3000 + "]" * 3000 + "\n", "nested more than 64 levels"),
    # deep enough to overflow libyaml's C stack while composing (a segfault before the events were counted)
    "deeper": ("timezone: Europe/Berlin\nx: " + "[" * 200_000 + "]" * 200_000 + "\n", "nested more than 64 levels"),
    "deep_blocks": ("timezone: Europe/Berlin\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(100)), "nested more"),
    "oversized": ("timezone: Europe/Berlin\n# " + "x" * (MAX_CONFIG_BYTES + 10) + "\n", "larger than 1000 kB"),
}


def validate(config) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), "--config", str(config), "validate"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=config.parent,
    )
    return done, time.monotonic() - started


@pytest.mark.process  # runner.py validate
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_config_is_refused_in_one_line_quickly(tmp_project, kind):
    text, message = HOSTILE[kind]
    tmp_project.config.write_text(text)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=message):
        read_config_file(tmp_project.config)
    assert time.monotonic() - started < 2  # the walk costs the file's size, not the expansion (milliseconds)
    done, _ = validate(tmp_project.config)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert message in done.stderr and "config.yaml" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 2  # the problem, and the count


def test_a_few_shared_aliases_are_still_fine(tmp_project):
    tmp_project.config.write_text(
        "timezone: Europe/Berlin\n"
        "defaults: &d {timeout: 1m, retries: 0}\n"
        "jobs:\n"
        "  a: {task: kitchen_sink, schedule: '0 9 * * *'}\n"
    )
    raw = read_config_file(tmp_project.config)
    assert raw.data["defaults"] == {"timeout": "1m", "retries": 0}


@pytest.mark.process  # runner.py validate
def test_a_config_or_env_that_is_not_utf8_names_the_file_and_line(tmp_project):
    tmp_project.config.write_bytes(b"timezone: Europe/Berlin\n# caf\xe9\njobs: {}\n")
    done, _ = validate(tmp_project.config)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "config.yaml:2: not UTF-8 text" in done.stderr

    tmp_project.config.write_text("timezone: Europe/Berlin\njobs: {}\n")
    (tmp_project.root / ".env").write_bytes(b"A=1\nAPI_TOKEN=s3cr\xe9t\n")
    done, _ = validate(tmp_project.config)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert ".env:2: not UTF-8 text" in done.stderr
    assert "s3cr" not in done.stderr  # the bytes of a secret are never echoed


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("API_TOKEN=s3cr3t-ü\r\nREGION=eu\r\n".encode("utf-16"), "UTF-16 with its byte-order mark, CRLF"),
        (b"\xef\xbb\xbfAPI_TOKEN=s3cr3t-\xc3\xbc\n", "UTF-8 with a byte-order mark"),
    ],
)
def test_an_env_file_a_windows_editor_saved_is_read_whole(tmp_path, monkeypatch, data, encoding):
    for name in ("API_TOKEN", "REGION"):  # environment() sets them for the process: undone after the test
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_bytes(data)
    env = environment(tmp_path)
    assert env["API_TOKEN"] == "s3cr3t-ü", encoding  # the mark is not part of the first name


def test_an_env_line_that_is_no_assignment_names_the_file_and_line(tmp_path):
    (tmp_path / ".env").write_text("A=1\n=oops no name\nB=2\n")
    with pytest.raises(ConfigError, match=r"^\.env:2: cannot read this line \(NAME=value expected\)"):
        environment(tmp_path)


NON_ASCII_SCHEDULES = [
    "³0 8 * * *",  # superscript: isdigit() is true, int() raises
    "30 ٨ * * *",  # Arabic-Indic eight: int() would quietly read 8
    "every ２ hours",  # fullwidth two
    "every day at ０8:30",
    "business day ٣ of the month at 09:00",
    "0 8 * * ٥L",
    "*/٥ * * * *",
]


@pytest.mark.parametrize("schedule", NON_ASCII_SCHEDULES)
def test_a_schedule_with_non_ascii_digits_is_a_config_error(schedule):
    with pytest.raises(ConfigError):
        parse_schedule(schedule, "Europe/Berlin")


@pytest.mark.parametrize(
    "schedule, message",
    [
        ("*/99999999 8 * * *", r"minute step '/99999999' is larger than any cron field \(0-59 here\)"),
        ("0 */101 * * *", "hour step '/101' is larger than any cron field"),
        ("*/" + "9" * 150 + " * * * *", "larger than any cron field"),
        ("1" * 150 + " * * * *", "minute 111111111111... is out of range 0-59"),
        ("1" * 5000 + " * * * *", "the schedule is 5,008 characters long"),
        ("every " + "1" * 5000 + " minutes", "characters long"),
    ],
)
def test_an_absurd_cron_step_or_number_is_one_short_line(schedule, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_schedule(schedule, "Europe/Berlin")
    assert len(str(caught.value)) < 600


@pytest.mark.parametrize("text", ["last_٣_days", "２０２６-11-01", "2026-W٤٦", "2026-１１"])
def test_a_period_with_non_ascii_digits_is_refused(text):
    with pytest.raises(PeriodError, match="is not a period"):
        Period.parse(text, tz=UTC, scheduled_for=datetime(2026, 11, 16, tzinfo=UTC))


@pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31", "1899-12-31..2026-01-01"])
def test_a_period_outside_the_supported_years_is_refused(text):
    with pytest.raises(PeriodError, match="outside the years 1900 to 2999"):
        Period.parse(text, tz=UTC, scheduled_for=datetime(2026, 11, 16, tzinfo=UTC))


def test_the_scheduler_keeps_its_jobs_when_config_yaml_gets_a_non_ascii_digit(project_root, caplog):
    s, ex = make(project_root, 'a:\n  task: kitchen_sink\n  schedule: "0 9 * * *"\n')
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    config = project_root / "config.yaml"
    config.write_text(config.read_text().replace('"0 9 * * *"', '"0 ⁹ * * *"'))
    os.utime(config, (1, 1))
    s.tick(at(2026, 11, 16, 8, 1))  # on main: ValueError out of tick, the scheduler dies
    assert "still running the previous one" in caplog.text
    s.tick(at(2026, 11, 16, 9, 0))
    assert [r.job for r in runs(s)] == ["a"]  # the old job still fires


def test_the_scheduler_keeps_its_jobs_on_an_alias_bomb(project_root, caplog):
    s, ex = make(project_root, 'a:\n  task: kitchen_sink\n  schedule: "0 9 * * *"\n')
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    config = project_root / "config.yaml"
    config.write_text(billion_laughs().replace("jobs: {}\n", config.read_text().split("jobs:", 1)[0] + "jobs: {}\n"))
    os.utime(config, (1, 1))
    started = time.monotonic()
    s.tick(at(2026, 11, 16, 8, 1))
    assert time.monotonic() - started < 10  # a hang on main; milliseconds here, seconds only on a loaded machine
    assert "expands to more than 100,000 values" in caplog.text
    s.tick(at(2026, 11, 16, 9, 0))
    assert [r.job for r in runs(s)] == ["a"]


def test_any_unexpected_error_while_reloading_keeps_the_old_config(project_root, caplog, monkeypatch):
    s, ex = make(project_root, 'a:\n  task: kitchen_sink\n  schedule: "0 9 * * *"\n')
    s.start(at(2026, 11, 16, 8, 0), lock=False)

    def broken(path):
        raise RuntimeError("a bug in a check")

    monkeypatch.setattr("opskit.engine.daemon.load_valid_config", broken)
    config = project_root / "config.yaml"
    config.write_text(config.read_text() + "  b:\n    task: kitchen_sink\n    schedule: '0 10 * * *'\n")
    os.utime(config, (1, 1))
    s.tick(at(2026, 11, 16, 8, 1))
    lines = [r.getMessage() for r in caplog.records if "could not be loaded" in r.getMessage()]
    assert lines == [
        "config changed but could not be loaded (RuntimeError: a bug in a check); still running the previous one"
    ]
    s.tick(at(2026, 11, 16, 9, 0))
    assert [r.job for r in runs(s)] == ["a"] and set(s.timetables) == {"a"}


@pytest.fixture
def project_root(tmp_project):
    return tmp_project.root


@pytest.mark.parametrize(
    "value, message",
    [
        ("999999999999d", "is not a duration"),  # past 9 digits: int() of a huge text is no duration
        ("99999999d", "is longer than 10 years"),  # would overflow a run's deadline
        ("1e300", "is not a duration"),
        ("99999999999999999999", "is longer than 10 years"),  # a number of seconds
        ("٣m", "is not a duration"),  # Arabic-Indic three
    ],
)
def test_an_absurd_or_non_ascii_duration_is_a_config_error(tmp_project, value, message):
    from opskit.config.model import check_config

    tmp_project.write_config(
        f"""\
        timezone: Europe/Berlin
        defaults:
          timeout: {value}
        jobs:
          a:
            task: kitchen_sink
            gates:
              max_age: {value}
        """
    )
    problems, config = check_config(tmp_project.config)
    assert config is None
    texts = sorted(str(p) for p in problems)
    assert len(texts) == 2 and all(message in t for t in texts), texts
    assert "defaults.timeout" in texts[0] and "gates.max_age" in texts[1]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_a_float_parameter_must_be_finite(run_cli, value):
    done = run_cli("run", "nightly", "--param", f"ratio={value}", "--dry-run")
    assert done.exit_code == 2
    assert f"parameter 'ratio': '{value}' is not valid: input should be a finite number" in done.stderr


def test_a_config_path_that_is_a_fifo_or_a_folder_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    for path in (fifo, tmp_path):
        with pytest.raises(ConfigError, match="is not a regular file"):
            read_config_file(path)


def test_defaults_and_urls_later_in_a_value_are_secrets_where_a_password_would_be(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "a: ${DB_PASSWORD:-changeme-default}\n"
        'b: "postgresql://app:${PG_P}@db/x, https://u:${OTHER}@h/"\n'
        'c: "mirror https://bot:${MIRROR}@mirror.internal/repo"\n'
        'd: "see https://host/path?x=1 then ${PLAIN}"\n'
        'e: "https://h/${REGION}/x"\n'
    )
    env = {"PG_P": "pgpass11", "OTHER": "otherpw11", "MIRROR": "mirrorpass77", "PLAIN": "plainvalue", "REGION": "eu-1"}
    raw = read_config_file(config, environ=env)
    assert raw.secrets == {"changeme-default", "pgpass11", "otherpw11", "mirrorpass77"}


@pytest.mark.parametrize("name", ["OPS_PW", "DB_PWD", "SENTRY_DSN", "URL_SIG", "SLACK_WEBHOOK", "GPG_PRIVATE"])
def test_common_names_of_secrets_make_their_values_secrets(tmp_path, name):
    config = tmp_path / "config.yaml"
    config.write_text(f"a: ${{{name}}}\nb: ${{UPWARD_LIMIT}}\n")
    raw = read_config_file(config, environ={name: "hunter2-value", "UPWARD_LIMIT": "12345"})
    assert raw.secrets == {"hunter2-value"}  # and a name that only contains the letters is not one
