"""The command line's manners: one `error: ...` line and the right exit code for every failure,
a traceback only with --debug, and --version."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from orchestration.cli import OmnicxGroup, main
from orchestration.commands import COMMANDS


@click.group(cls=OmnicxGroup)
@click.option("--debug", is_flag=True)
def toy(debug: bool) -> None:
    """A group with the CLI's error handling and commands that fail in each way."""


@toy.command()
def crash() -> None:
    raise RuntimeError("the disk\nis on fire")


@toy.command()
def refuse() -> None:
    raise click.ClickException("the broker is not running (start it with `omnicx kafka start`)")


@toy.command()
@click.option("--count", type=int)
def count(count: int | None) -> None:
    click.echo(f"count {count}")


def test_an_unexpected_failure_is_one_line_without_traceback() -> None:
    outcome = CliRunner().invoke(toy, ["crash"], prog_name="toy")
    assert outcome.exit_code == 1
    assert outcome.stderr.splitlines() == [
        "error: the disk is on fire (RuntimeError; run with --debug for the traceback)"
    ]


def test_with_debug_an_unexpected_failure_keeps_its_traceback() -> None:
    outcome = CliRunner().invoke(toy, ["--debug", "crash"], prog_name="toy")
    assert outcome.exit_code == 1
    assert isinstance(outcome.exception, RuntimeError)
    assert "error:" not in outcome.stderr


def test_a_refusal_says_what_to_do_next() -> None:
    outcome = CliRunner().invoke(toy, ["refuse"], prog_name="toy")
    assert outcome.exit_code == 1
    assert outcome.stderr.splitlines() == [
        "error: the broker is not running (start it with `omnicx kafka start`)"
    ]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["count", "--count", "many"], "error: Invalid value for '--count': 'many' is not a"),
        (["count", "--cuont", "1"], "error: No such option: --cuont"),
        (["cout"], "error: No such command 'cout'"),
    ],
)
def test_a_usage_error_exits_2_with_one_line(args: list[str], line: str) -> None:
    outcome = CliRunner().invoke(toy, args, prog_name="toy")
    assert outcome.exit_code == 2
    (printed,) = outcome.stderr.splitlines()
    assert printed.startswith(line)
    assert printed.endswith("--help`)")


def test_success_exits_0() -> None:
    outcome = CliRunner().invoke(toy, ["count", "--count", "3"], prog_name="toy")
    assert (outcome.exit_code, outcome.stdout, outcome.stderr) == (0, "count 3\n", "")


def test_version() -> None:
    outcome = CliRunner().invoke(main, ["--version"], prog_name="omnicx")
    assert outcome.exit_code == 0
    assert outcome.stdout == f"omnicx, version {version('omnicx')}\n"


def test_each_command_is_imported_by_its_name_and_only_when_used() -> None:
    command = [sys.executable, "-c", "import sys, orchestration.cli; print(sorted(sys.modules))"]
    imported = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert "orchestration.commands.kpis" not in imported  # only orchestration.commands itself
    assert "'orchestration.commands'" in imported
    assert "'kafka'" not in imported  # the Kafka client, for every command that needs none
    context = click.Context(main)
    names = main.list_commands(context)
    assert names == sorted(COMMANDS) and len(names) == 23
    for name in names:
        loaded = main.get_command(context, name)
        assert isinstance(loaded, click.Command) and loaded.name == name
    assert main.get_command(context, "cout") is None


def test_an_invalid_knob_is_one_line_from_the_real_command(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "OMNICX_HOME": str(tmp_path),
        "OMNICX_KPIS_ABANDON_TREATMENT": "bogus",
    }
    finished = subprocess.run(
        [sys.executable, "-m", "orchestration", "kpis", "--from", "2026-01-05"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 1
    assert finished.stdout == ""
    assert finished.stderr.splitlines() == [
        "error: OMNICX_KPIS_ABANDON_TREATMENT: 'bogus' is not one of negative, ignore, positive "
        "(see the settings in README.md)"
    ]
