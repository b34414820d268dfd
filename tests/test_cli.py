"""The ``nnlect`` command line: help for every flag, exit codes that mean something,
clear errors for bad flags and missing files."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from nnlect import cli


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _all_parsers():
    """Every (name, parser) of the CLI: the commands and the train recipes."""
    root = cli.build_parser()
    for name, sub in _subparsers(root):
        yield name, sub
        for recipe, recipe_parser in _subparsers(sub):
            yield f"{name} {recipe}", recipe_parser


def test_every_command_and_recipe_exists():
    names = {name for name, _ in _all_parsers()}
    assert {"tour", "train", "train mlp", "bench", "sample"} <= names


@pytest.mark.parametrize("name,parser", list(_all_parsers()), ids=lambda v: v if isinstance(v, str) else "")
def test_help_explains_every_flag(name, parser):
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help and len(action.help) > 10, f"nnlect {name} {action.option_strings[0]} has no help text"
    text = " ".join(parser.format_help().split())  # argparse wraps lines: compare word by word
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.option_strings[0] in text, f"nnlect {name}: {action.option_strings[0]} missing from --help"
            first_words = " ".join(action.help.split()[:3]).replace("%%", "%")
            assert first_words in text, f"nnlect {name} {action.option_strings[0]}: help text not shown"


def test_help_exits_zero_and_lists_the_tour_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["tour", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--out", "--seed", "--small", "--only", "--no-figures"):
        assert flag in out


@pytest.mark.parametrize("argv,fragment", [
    (["tour", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["tour", "--only", "no_such_experiment"], "invalid choice: 'no_such_experiment'"),
    (["train", "mlp", "--epochs", "many"], "invalid int value: 'many'"),
    (["train", "no_such_recipe"], "invalid choice: 'no_such_recipe'"),
    ([], "required"),
])
def test_bad_flags_exit_2_with_a_message(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err


@pytest.mark.parametrize("argv,fragment", [
    (["train", "mlp", "--epochs", "0"], "--epochs: expected a positive int, got 0"),
    (["train", "mlp", "--dropout", "1.5", "--epochs", "1"], "dropout: expected a float in [0, 1), got 1.5"),
    (["train", "mlp", "--data", "mnist", "--data-dir", "/no/such/folder"], "are not all in /no/such/folder"),
    (["train", "mlp", "--batch-size", "100000"], "--batch-size: expected at most the 1500 training examples"),
])
def test_bad_values_and_missing_files_exit_2_with_one_line(argv, fragment, tmp_path, capsys):
    assert cli.main([*argv[:2], "--out", str(tmp_path / "run"), *argv[2:]]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_tour_out_must_be_a_folder(tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("")
    assert cli.main(["tour", "--only", "activations", "--out", str(a_file), "--quiet"]) == 2
    assert "--out: expected a folder" in capsys.readouterr().err


def test_tour_exits_1_when_a_claim_does_not_hold(monkeypatch, capsys):
    from nnlect.experiments import _common, activations

    def broken(*, seed=0, small=False):
        return _common.Claim("activations", "a claim that fails", False, ["measured: nothing"], {}, lambda n: None)

    monkeypatch.setattr(activations, "run", broken)
    assert cli.main(["tour", "--only", "activations", "--no-figures", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "a claim that fails: DOES NOT HOLD" in out and "0 of 1 claims hold" in out


def test_the_console_script_runs_a_tour_step(tmp_path):
    """The installed entry point, in a fresh process: one experiment, its figure and the summary."""
    done = subprocess.run([sys.executable, "-c", "import sys; from nnlect.cli import main; sys.exit(main())",
                           "tour", "--only", "activations", "--out", str(tmp_path), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1 of 1 claims hold" in done.stdout
    assert (tmp_path / "activations.png").read_bytes().startswith(b"\x89PNG")
    assert "1 of 1 claims hold" in (tmp_path / "SUMMARY.md").read_text()
