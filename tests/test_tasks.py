from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from opskit.errors import ParamError, UsageError
from opskit.period import Period
from opskit.tasks import discover
from tests.conftest import FIXTURE_TASKS

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 16, 8, tzinfo=BERLIN)


@pytest.fixture(scope="module")
def registry():
    return discover(FIXTURE_TASKS)


def test_discovery_finds_tasks_and_lists_broken_modules(registry):
    assert {"kitchen_sink", "boom", "bad_data", "slow", "leak_secret"} <= set(registry.tasks)
    assert "_helpers" not in registry.broken  # private modules are not imported at all
    error = registry.broken["broken_syntax"]
    assert re.search(r"broken_syntax\.py:7: SyntaxError: expected ':'", error), error
    with pytest.raises(UsageError, match="task 'broken_syntax' is broken: .*SyntaxError"):
        registry.get("broken_syntax")


def test_spec_reads_docstring_and_signature(registry):
    spec = registry.get("kitchen_sink")
    assert spec.description == "Echo every parameter into params.json."
    params = {p.name: p for p in spec.params}
    assert params["queues"].help == "Only these queues; all when empty."
    assert params["queues"].type_label == "list of str"
    assert params["mode"].type_label == "one of fast|full"
    assert params["cut"].type_label == "one of queue|vendor"
    assert params["period"].type_label == "Period"
    assert params["day"].type_label == "date (optional)"
    assert params["count"].default == 3


def test_the_decorator_returns_the_function_itself(registry):
    spec = registry.get("kitchen_sink")
    assert spec.func._opskit_task is spec


def test_values_from_the_command_line_are_converted(registry):
    spec = registry.get("kitchen_sink")
    values = spec.validate(
        {
            "period": "2026-W46",
            "count": "12",
            "ratio": "0.25",
            "flag": "yes",
            "mode": "full",
            "cut": "vendor",
            "queues": "Q1, Q2,Q3",
            "day": "2026-11-02",
        },
        tz=BERLIN,
        scheduled_for=MONDAY,
    )
    assert values["period"] == Period(date(2026, 11, 9), date(2026, 11, 15))
    assert values["count"] == 12 and values["ratio"] == 0.25 and values["flag"] is True
    assert values["mode"] == "full" and values["cut"].value == "vendor"
    assert values["queues"] == ("Q1", "Q2", "Q3")
    assert values["day"] == date(2026, 11, 2)


def test_defaults_are_validated_too(registry):
    values = registry.get("kitchen_sink").validate({}, tz=BERLIN, scheduled_for=MONDAY)
    assert values["period"] == Period(date(2026, 11, 15), date(2026, 11, 15))  # "yesterday"
    assert values["queues"] == () and values["day"] is None


def test_values_from_yaml_lists_are_accepted(registry):
    values = registry.get("kitchen_sink").validate(
        {"queues": ["A", "B"], "count": 4, "flag": False}, tz=BERLIN, scheduled_for=MONDAY
    )
    assert values["queues"] == ("A", "B") and values["count"] == 4


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"perod": "x"}, "task 'kitchen_sink': unknown parameter 'perod'. Did you mean 'period'?"),
        ({"zzz": "x"}, "task 'kitchen_sink': unknown parameter 'zzz'. Parameters: period, count"),
        (
            {"period": "last_fortnight"},
            "task 'kitchen_sink', parameter 'period': 'last_fortnight' is not a period (use yesterday",
        ),
        ({"count": "twelve"}, "parameter 'count': 'twelve' is not valid: input should be a valid integer"),
        ({"mode": "slow"}, "parameter 'mode': 'slow' is not valid: input should be 'fast' or 'full'"),
        ({"flag": "maybe"}, "parameter 'flag': 'maybe' is not valid: input should be a valid boolean"),
        ({"day": "2026-02-30"}, "parameter 'day': '2026-02-30' is not valid"),
    ],
)
def test_bad_values_name_the_parameter_and_the_accepted_forms(registry, raw, message):
    with pytest.raises(ParamError) as caught:
        registry.get("kitchen_sink").validate(raw, tz=BERLIN, scheduled_for=MONDAY)
    assert message in str(caught.value), str(caught.value)
    assert caught.value.exit_code == 2


def test_unknown_task_suggests_a_close_name(registry):
    with pytest.raises(UsageError, match=re.escape("unknown task 'kitchen_snk'. Did you mean 'kitchen_sink'?")):
        registry.get("kitchen_snk")


def test_duplicate_task_names_are_broken_naming_both_files(tmp_path):
    for module in ("a", "b"):
        (tmp_path / f"{module}.py").write_text(
            "from opskit import task\n\n@task(name='dup')\ndef f(ctx):\n    '''Doc.'''\n"
        )
    registry = discover(tmp_path)
    assert "dup" not in registry.tasks
    assert re.search(r"defined twice: in .*a\.py and in .*b\.py", registry.broken["dup"])


def test_module_that_raises_on_import_is_broken_with_its_line(tmp_path):
    (tmp_path / "bad.py").write_text("import os\n\nraise RuntimeError('no VPN')\n")
    (tmp_path / "good.py").write_text("from opskit import task\n\n@task\ndef good(ctx):\n    '''Fine.'''\n")
    registry = discover(tmp_path)
    assert registry.broken["bad"].endswith("bad.py:3: RuntimeError: no VPN")
    assert "good" in registry.tasks


def test_positional_parameters_are_refused(tmp_path):
    (tmp_path / "pos.py").write_text("from opskit import task\n\n@task\ndef pos(ctx, n: int = 1):\n    '''P.'''\n")
    assert "must be keyword-only" in discover(tmp_path).broken["pos"]


def test_scheduled_for_in_utc_resolves_in_the_given_timezone(registry):
    values = registry.get("kitchen_sink").validate(
        {"period": "today"}, tz=BERLIN, scheduled_for=datetime(2026, 11, 16, 23, 30, tzinfo=UTC)
    )
    assert values["period"].start == date(2026, 11, 17)
