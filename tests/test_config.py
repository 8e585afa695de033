from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from opskit.config.model import check_config, load_config
from opskit.errors import ConfigError
from tests.conftest import REPO


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def first_error(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ if environ is not None else {})
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_a_valid_config_loads_with_defaults_and_analyst_durations(tmp_path):
    path = write(
        tmp_path,
        """\
timezone: Europe/Berlin
defaults:
  timeout: 1h30m
jobs:
  daily:
    task: source_check
    timeout: 90
    retry_backoff: 2m
""",
    )
    config = load_config(path, environ={})
    job = config.jobs["daily"]
    assert str(config.settings.timezone) == "Europe/Berlin"
    assert config.settings.defaults.timeout == timedelta(hours=1, minutes=30)
    assert job.timeout == timedelta(seconds=90) and job.retry_backoff == timedelta(minutes=2)
    assert config.runs_dir == tmp_path / "var" / "runs"
    assert config.tasks_dir == tmp_path / "tasks"
    assert config.where("jobs", "daily", "timeout") == "config.yaml:7"


def test_unknown_key_names_file_line_and_close_match(tmp_path):
    path = write(tmp_path, "jobs:\n  daily:\n    task: source_check\n    shedule: '@daily'\n")
    assert first_error(path) == ("config.yaml:4: unknown key 'shedule' in jobs.daily. Did you mean 'schedule'?")


def test_unknown_top_level_key_lists_the_allowed_ones(tmp_path):
    path = write(tmp_path, "zzz: 1\n")
    message = first_error(path)
    assert message.startswith("config.yaml:1: unknown key 'zzz' in the top level. Allowed keys: timezone")


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    path = write(tmp_path, "jobs:\n  daily:\n    task: [unclosed\n    schedule: x\n")
    message = first_error(path)
    assert message.startswith("config.yaml:4:"), message
    assert "YAML syntax error" in message


def test_tab_indentation_is_a_syntax_error_not_a_traceback(tmp_path):
    path = write(tmp_path, "jobs:\n\tdaily: 1\n")
    assert "config.yaml:2:1: YAML syntax error" in first_error(path)


def test_duplicate_keys_are_errors(tmp_path):
    path = write(tmp_path, "jobs:\n  daily:\n    task: a\n  daily:\n    task: b\n")
    assert first_error(path).startswith("config.yaml:4: duplicate key 'daily'")


def test_bad_timezone_suggests_the_right_one(tmp_path):
    path = write(tmp_path, "timezone: Europe/Berln\n")
    assert first_error(path) == (
        "config.yaml:1: timezone: unknown timezone 'Europe/Berln'. Did you mean 'Europe/Berlin'?"
    )


def test_bad_duration_and_wrong_type(tmp_path):
    path = write(tmp_path, "jobs:\n  a:\n    task: t\n    timeout: soon\n    retries: lots\n")
    problems, config = check_config(path, environ={})
    assert config is None
    messages = [str(p) for p in problems]
    assert messages[0] == ("config.yaml:4: jobs.a.timeout: 'soon' is not a duration (use e.g. 90s, 30m, 2h, 1h30m, 7d)")
    assert messages[1].startswith("config.yaml:5: jobs.a.retries: 'lots': input should be a valid integer")


def test_every_problem_is_reported_and_the_first_says_how_many_more(tmp_path):
    path = write(tmp_path, "jobs:\n  a:\n    tsk: x\n  b:\n    task: y\n    enabld: true\n  c: {}\n")
    problems, _ = check_config(path, environ={})
    assert [str(p).split(":")[1] for p in problems] == ["3", "6", "7"]  # tsk, enabld, c has no task
    assert "(2 more problem(s): run `runner.py validate`)" in first_error(path)


def test_missing_required_key(tmp_path):
    path = write(tmp_path, "jobs:\n  a:\n    schedule: '@daily'\n")
    assert first_error(path) == "config.yaml:2: jobs.a: missing required key 'task' (or 'steps', a list of tasks)"


def test_interpolation_with_defaults_and_escapes(tmp_path):
    path = write(
        tmp_path,
        """\
sources:
  console:
    url: ${CONSOLE_URL:-http://127.0.0.1:5050}
    description: costs $$5 at ${SITE}
""",
    )
    config = load_config(path, environ={"SITE": "Lisbon"})
    source = config.settings.sources["console"]
    assert source.url == "http://127.0.0.1:5050"
    assert source.description == "costs $5 at Lisbon"
    assert (
        load_config(path, environ={"SITE": "x", "CONSOLE_URL": "https://tool"}).settings.sources["console"].url
        == "https://tool"
    )


def test_missing_variable_names_the_variable_and_the_job(tmp_path):
    path = write(tmp_path, "jobs:\n  weekly:\n    task: t\n    params:\n      region: ${REGION}\n")
    assert first_error(path) == (
        "config.yaml:5: environment variable REGION is not set (needed by job "
        "'weekly'). Set it in the environment or in .env, or write ${REGION:-default}"
    )


def test_dotenv_beside_the_config_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    write(tmp_path, "FROM_FILE=file-value\nBOTH=file\n", name=".env")
    path = write(tmp_path, "sources:\n  a:\n    url: http://x/${FROM_FILE}/${BOTH}\n")
    monkeypatch.setenv("BOTH", "env")
    monkeypatch.delenv("FROM_FILE", raising=False)
    config = load_config(path)
    assert config.settings.sources["a"].url == "http://x/file-value/env"


def test_secret_values_are_collected_for_redaction(tmp_path):
    path = write(
        tmp_path,
        """\
sources:
  console:
    url: http://x/?key=${API_KEY}
    password_env: CONSOLE_PASSWORD
""",
    )
    config = load_config(path, environ={"API_KEY": "k3y-value", "CONSOLE_PASSWORD": "hunter22"})
    assert {"k3y-value", "hunter22"} <= config.secrets


def test_variables_in_a_urls_credentials_or_query_are_secrets_whatever_their_name(tmp_path):
    path = write(
        tmp_path,
        """\
sources:
  vendor:
    url: https://${VENDOR_USER}:${VENDOR_PW}@${VENDOR_HOST}/export?sig=${VENDOR_SIG}
  console:
    url: ${CONSOLE_URL}
""",
    )
    env = {
        "VENDOR_USER": "svc-export",
        "VENDOR_PW": "hunter-22",
        "VENDOR_HOST": "vendor.example",
        "VENDOR_SIG": "abc123sig",
        "CONSOLE_URL": "http://console.example",
    }
    config = load_config(path, environ=env)
    assert {"svc-export", "hunter-22", "abc123sig"} <= config.secrets
    assert "vendor.example" not in config.secrets and "http://console.example" not in config.secrets


def test_job_names_must_be_simple(tmp_path):
    path = write(tmp_path, "jobs:\n  Weekly Report:\n    task: t\n")
    assert first_error(path).startswith("config.yaml:2: job name 'Weekly Report' may use only lowercase")


def test_missing_file_is_a_clear_error(tmp_path):
    message = first_error(tmp_path / "nope.yaml")
    assert message.startswith(f"config file {tmp_path / 'nope.yaml'} does not exist")


def test_the_shipped_config_is_valid():
    from tests.conftest import REPO

    config = load_config(REPO / "config.yaml", environ={})
    assert config.jobs, "the sample config ships jobs"


def test_a_secret_in_job_parameters_is_refused_because_parameters_are_stored(tmp_path):
    path = write(tmp_path, "jobs:\n  a:\n    task: t\n    params:\n      token: ${API_TOKEN}\n")
    message = first_error(path, environ={"API_TOKEN": "s3cr3t-value"})
    assert message.startswith("config.yaml:5: ${API_TOKEN} looks like a secret, and job parameters are stored")
    assert "ctx.secret('API_TOKEN')" in message and "s3cr3t-value" not in message


@pytest.mark.parametrize("value", ["-5", "0", "0s"])
def test_a_timeout_must_be_positive(tmp_path, value):
    path = write(tmp_path, f"jobs:\n  a:\n    task: t\n    timeout: {value}\n")
    assert first_error(path).startswith("config.yaml:4: jobs.a.timeout:")


def test_email_settings_resolve_their_folders_against_the_config_not_the_cwd(tmp_path):
    path = write(
        tmp_path,
        f"""\
email:
  outbox_dir: mail/out
  tls_ca_file: certs/company.pem
  shared_folder: {tmp_path / "share"}
""",
    )
    config = load_config(path, environ={})
    settings = config.email_settings()
    root = path.resolve().parent
    assert settings.outbox_dir == root / "mail" / "out" == config.outbox_dir
    assert settings.tls_ca_file == root / "certs" / "company.pem"
    assert settings.shared_folder == tmp_path / "share"  # absolute: kept as written
    assert config.settings.email.tls_ca_file == Path("certs/company.pem")  # the loaded config is unchanged


def test_a_sources_browser_durations_read_like_every_other_duration(tmp_path):
    source = "sources:\n  console:\n    url: http://127.0.0.1\n    browser:\n      download_timeout: {}\n"
    config = load_config(write(tmp_path, source.format("1h30m")), environ={})
    assert config.settings.sources["console"].browser.download_timeout == timedelta(hours=1, minutes=30)
    message = first_error(write(tmp_path, source.format("soon")))
    assert message == (
        "config.yaml:5: sources.console.browser.download_timeout: "
        "'soon' is not a duration (use e.g. 90s, 30m, 2h, 1h30m, 7d)"
    )


def test_the_config_package_names_its_settings_and_loads_none_of_them_until_asked():
    code = (
        "import sys, opskit.config, opskit.config.file\n"
        "before = 'pydantic' in sys.modules\n"
        "from opskit.config import Config, EmailSettings, Gates, JobEmail, WebhookSettings, load_config\n"
        "print(before, 'pydantic' in sys.modules, Config.__module__, EmailSettings.__module__, Gates.__module__,"
        " WebhookSettings.__module__, load_config.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.split() == [
        "False",
        "True",
        "opskit.config.model",
        "opskit.config.email",
        "opskit.config.gates",
        "opskit.config.chat",
        "opskit.config.model",
    ]
    import opskit.config

    assert all(getattr(opskit.config, name) is not None for name in opskit.config.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        opskit.config.Nope  # noqa: B018


def test_vendor_reports_section_is_validated_with_file_line_and_did_you_mean(tmp_path):
    """A misspelt field in vendor_reports.aliases would otherwise map headers to nothing (issue #12)."""
    path = write(
        tmp_path,
        "vendor_reports:\n  aliases:\n    handle_seconds: [Bearbeitungszeit]\n    handle_secs: [Handling]\n",
    )
    assert first_error(path) == (
        "config.yaml:4: vendor_reports.aliases.handle_secs: 'handle_secs' is not a vendor report field. "
        "Did you mean 'handle_seconds'?"
    )
    gate = write(tmp_path, "vendor_reports:\n  unknown_columns: drop\n", "gate.yaml")
    assert first_error(gate).startswith("gate.yaml:2: vendor_reports.unknown_columns: 'drop': input should be")
    expected = write(tmp_path, "vendor_reports:\n  expected: [handle_seconds, prodctive_seconds]\n", "exp.yaml")
    assert "Did you mean 'productive_seconds'?" in first_error(expected)


def test_vendor_reports_section_loads_patterns_in_every_short_form(tmp_path):
    path = write(
        tmp_path,
        """\
vendor_reports:
  vendors:
    Acme: {files: ["acme_*.xlsx", "acme_*.csv"]}
    Globex: "globex*"
    Initech: ["initech*"]
  aliases:
    productive_seconds: "Time on task"
  ignore_columns: [Team lead]
  unknown_columns: warn
""",
    )
    section = load_config(path, environ={}).settings.vendor_reports
    assert {k: v.files for k, v in section.vendors.items()} == {
        "Acme": ["acme_*.xlsx", "acme_*.csv"],
        "Globex": ["globex*"],
        "Initech": ["initech*"],
    }
    assert section.aliases == {"productive_seconds": ["Time on task"]} and section.unknown_columns == "warn"
    assert section.expected == ["handle_seconds", "productive_seconds", "qa_sampled", "qa_correct"]


def test_vendor_report_fields_are_the_readers_fields():
    """config/vendors.py lists the field names for validation; reports/vendor.py reads them: the same list."""
    from opskit.config.vendors import VENDOR_REPORT_FIELDS
    from opskit.reports.vendor import VENDOR_ALIASES, VENDOR_FIELDS, VENDOR_TYPES

    assert set(VENDOR_REPORT_FIELDS) == set(VENDOR_ALIASES) == set(VENDOR_TYPES) >= set(VENDOR_FIELDS)
