"""The manual stays true: every command has help with an example and is in the README; every task says
what it does; every config key the README shows exists."""

from __future__ import annotations

import re

import pytest

from opskit.cli.main import EXAMPLES, build_parser
from opskit.tasks import discover
from tests.conftest import REPO

README = (REPO / "README.md").read_text()
COMMANDS = sorted(EXAMPLES)


def subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_every_command_has_an_example():
    assert set(subparsers()) == set(EXAMPLES)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_its_example(command):
    help_text = subparsers()[command].format_help()
    assert "example:" in help_text and EXAMPLES[command].splitlines()[0] in help_text
    assert subparsers()[command].description


@pytest.mark.parametrize("command", COMMANDS)
def test_the_readme_mentions_every_command(command):
    assert re.search(rf"runner\.py {command}\b|`{command}\b", README), command


def test_the_readme_starts_with_the_two_commands():
    first_block = README.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


def test_every_task_has_a_description_and_documents_its_parameters():
    registry = discover(REPO / "tasks")
    assert not registry.broken, registry.broken
    assert len(registry.tasks) >= 10
    for spec in registry:
        assert spec.description, spec.name
        undocumented = [p.name for p in spec.params if not p.help]
        assert not undocumented, f"{spec.name}: Args: misses {undocumented}"


def test_every_task_is_named_in_the_readme():
    for spec in discover(REPO / "tasks"):
        assert f"`{spec.name}`" in README, spec.name


def test_the_shipped_config_validates_with_its_variables_set(monkeypatch):
    from opskit.engine.checks import validate_all

    for name in ("CONSOLE_USER", "CONSOLE_PASSWORD", "CONSOLE_API_TOKEN"):
        monkeypatch.setenv(name, "x")
    problems, summary = validate_all(REPO / "config.yaml")
    assert problems == [] and summary.startswith("6 job(s)")


def test_the_job_keys_in_the_readme_exist():
    from opskit.config.model import JobConfig

    block = README.split("A job:")[1].split("```yaml")[1].split("```")[0]
    keys = set(re.findall(r"^    ([a-z_]+):", block, flags=re.M))
    assert keys and keys <= set(JobConfig.model_fields), keys - set(JobConfig.model_fields)
