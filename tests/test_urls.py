"""URLs with a password from the environment: any character in it, never a part of it shown."""

from __future__ import annotations

import pytest

from opskit.config.executor import ExecutorSettings
from opskit.config.model import load_config
from opskit.config.urls import safe_url, shown_url, split_url
from opskit.engine.database import redact_url, sqlalchemy_url
from opskit.errors import ConfigError

HARD = ["s3cr3t p@ss", "a:b@c/d?e#f", "100%sure", "p%40ss", "ünï cødé@:", "@@@"]


@pytest.mark.parametrize("password", HARD)
def test_a_history_url_keeps_any_password_whole_and_never_shows_any_of_it(password):
    url = f"postgresql://opskit:{password}@db.internal:5433/opskit?sslmode=require"
    parsed = sqlalchemy_url(url)
    expected = "p@ss" if password == "p%40ss" else password  # already encoded (nothing a URL misreads): decoded once
    assert (parsed.username, parsed.password, parsed.host, parsed.port, parsed.database) == (
        "opskit",
        expected,
        "db.internal",
        5433,
        "opskit",
    )
    assert parsed.query == {"sslmode": "require"} and parsed.drivername == "postgresql+psycopg"
    shown = redact_url(url)
    assert shown == "postgresql://opskit:***@db.internal:5433/opskit?sslmode=require"
    assert not any(piece in shown for piece in ("s3cr3t", "ss@", "c/d", "sure", "ünï"))


@pytest.mark.parametrize("password", HARD)
def test_a_broker_url_keeps_any_password_for_redis_and_shows_none(password):
    settings = ExecutorSettings(kind="celery", broker=f"redis://:{password}@10.0.0.5:6379/0")
    assert settings.password == ("p@ss" if password == "p%40ss" else password)
    assert settings.shown_broker == "redis://***@10.0.0.5:6379/0"
    import redis

    kwargs = redis.connection.parse_url(settings.broker_url)
    assert (kwargs["password"], kwargs["host"], kwargs["port"], kwargs["db"]) == (
        settings.password,
        "10.0.0.5",
        6379,
        0,
    )


def test_urls_without_credentials_or_not_urls_pass_through():
    assert safe_url("redis://localhost:6379/0") == "redis://localhost:6379/0"
    assert shown_url("postgresql://db/opskit") == "postgresql://db/opskit"
    assert split_url("var/history.sqlite") is None and shown_url("var/history.sqlite") == "var/history.sqlite"
    assert split_url("postgresql://ops@db/x").password is None  # a user without a password


def test_a_broker_with_a_port_that_is_no_number_is_one_line():
    with pytest.raises(ValueError, match=r"'redis://\*\*\*@h:xx/0' has a port that is not a number"):
        ExecutorSettings(kind="celery", broker="redis://:pw@h:xx/0")


def test_a_history_url_with_a_port_that_is_no_number_names_the_line(tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\nhistory: postgresql://u:${PW}@h:xx/db\n")
    with pytest.raises(ConfigError, match=r"config\.yaml:2.*'postgresql://u:\*\*\*@h:xx/db' is not a PostgreSQL URL"):
        load_config(tmp_path / "config.yaml", environ={"PW": "p@ss"})


def test_a_password_in_the_query_is_never_shown():
    shown = redact_url("postgresql://ops@db:5432/opskit?password=S3cret&sslmode=require&sslpassword=K3y")
    assert shown == "postgresql://ops@db:5432/opskit?password=***&sslmode=require&sslpassword=***"


def test_a_history_url_with_a_bad_port_on_the_command_line_is_one_line(tmp_path):
    from opskit.engine.history import RunStore
    from opskit.errors import UsageError

    with pytest.raises(UsageError, match=r"^history: cannot use postgresql://ops:\*\*\*@127\.0\.0\.1:abc/db") as caught:
        RunStore("postgresql://ops:S3cretPW@127.0.0.1:abc/db")
    assert "S3cretPW" not in str(caught.value)
