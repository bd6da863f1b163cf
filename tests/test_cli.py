"""The `d2lconv` command line: info and help."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import d2lconv
from d2lconv.backend import BACKENDS
from d2lconv.cli import build_parser, main
from d2lconv.install import pip_install


def test_info_json(capsys, monkeypatch):
    monkeypatch.setenv("D2LCONV_BACKEND", "PyTorch")
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["selected"] == "torch"
    assert [r["backend"] for r in data["backends"]] == list(BACKENDS)
    numpy_row = data["backends"][0]
    assert numpy_row["installed"] and numpy_row["version"]
    assert all(r["install"].startswith("pip install") for r in data["backends"])


def test_info_table_and_bad_env(capsys, monkeypatch):
    monkeypatch.setenv("D2LCONV_BACKEND", "caffe")
    assert main(["info"]) == 2
    captured = capsys.readouterr()
    assert "backend" in captured.out and "install with" in captured.out
    assert "'caffe'" in captured.err and "valid names" in captured.err


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "d2lconv.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "info" in out.stdout


@pytest.mark.parametrize("command", ["run", "matrix"])
def test_missing_chapter_tools_name_the_extra(command):
    code = ("import sys; sys.modules['nbclient'] = None\n"
            f"from d2lconv.cli import main; sys.exit(main([{command!r}, 'convolutions']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2
    assert "needs 'nbclient', which is not installed" in out.stderr
    assert pip_install("chapters") in out.stderr


@pytest.mark.parametrize("command", ["run", "matrix", "info"])
def test_subcommand_help(command):
    out = subprocess.run([sys.executable, "-m", "d2lconv.cli", command, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: d2lconv" in out.stdout


def test_bad_backend_flag_lists_valid_names():
    out = subprocess.run([sys.executable, "-m", "d2lconv.cli", "run", "convolutions", "--backend", "jaxx"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "valid names: 'numpy'" in out.stderr


def test_arguments_after_a_double_dash_only_for_lab(capsys):
    with pytest.raises(SystemExit) as info:
        main(["info", "--", "--port", "1"])  # an ordinary end of options for every other command
    assert info.value.code == 2
    assert "unrecognized arguments: -- --port 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["run", "lab", "--", "--port", "1"])  # a chapter named lab is no lab command
    assert info.value.code == 2
    assert "'run' takes no arguments after --, got --port 1" in capsys.readouterr().err


BAD_ENV = "pytorh"
BAD_ENV_ERROR = f"D2LCONV_BACKEND={BAD_ENV!r} is not a d2lconv backend; valid names: 'numpy'"


def command(*args: str, how: str = "script", **env: str) -> subprocess.CompletedProcess:
    """The d2lconv command in a fresh process: its console script (next to this Python), or ``python -m``."""
    script = Path(sys.executable).with_name("d2lconv")
    start = [str(script)] if how == "script" else [sys.executable, "-m", "d2lconv.cli"]
    if how == "script":
        assert script.exists(), f"the d2lconv console script should be installed at {script}"
    environ = {**{k: v for k, v in os.environ.items() if not k.startswith("D2LCONV_")}, **env}
    return subprocess.run([*start, *args], capture_output=True, text=True, env=environ, timeout=300)


@pytest.mark.parametrize("how", ["script", "module"])
def test_a_bad_env_var_is_one_line_not_a_traceback(how):
    """``import d2lconv`` fails on a bad D2LCONV_BACKEND (users' scripts); the command does not: --help
    works, and where the variable is used, it is a one-line error with exit 2."""
    out = command("--help", how=how, D2LCONV_BACKEND=BAD_ENV)
    assert out.returncode == 0 and "usage: d2lconv" in out.stdout and out.stderr == "", out.stderr
    out = command("--version", how=how, D2LCONV_BACKEND=BAD_ENV)
    assert out.returncode == 0 and out.stdout.strip() == f"d2lconv {d2lconv.__version__}", out.stderr
    for args, prefix in ((["info"], "error: "), (["run", "convolutions"], "d2lconv run: error: ")):
        out = command(*args, how=how, D2LCONV_BACKEND=BAD_ENV)
        assert out.returncode == 2, (args, out.stderr)
        assert "Traceback" not in out.stderr, out.stderr
        assert out.stderr.splitlines() == [out.stderr.strip()] and out.stderr.startswith(prefix + BAD_ENV_ERROR)
    assert "install with" in command("info", how=how, D2LCONV_BACKEND=BAD_ENV).stdout  # the table, then the error


def test_an_explicit_backend_flag_wins_over_a_bad_env_var(tmp_path):
    """``run --backend numpy`` does not consult the variable: here it gets as far as the chapter."""
    out = command("run", "no-such-chapter", "--backend", "numpy", "--build-dir", str(tmp_path),
                  D2LCONV_BACKEND=BAD_ENV)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("d2lconv run: error: no chapter 'no-such-chapter'"), out.stderr
    assert "D2LCONV_BACKEND" not in out.stderr


def test_a_script_still_fails_on_a_bad_env_var_at_its_first_op():
    out = subprocess.run([sys.executable, "-c", "import d2lconv as d2l; d2l.zeros(2)"], capture_output=True,
                         text=True, env={**os.environ, "D2LCONV_BACKEND": BAD_ENV}, timeout=300)
    assert out.returncode == 1 and f"ValueError: {BAD_ENV_ERROR}" in out.stderr


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: sub for action in actions for name, sub in action.choices.items()}


def test_no_parser_takes_an_abbreviated_option():
    parser = build_parser()
    commands = subparsers(parser)
    assert {"info", "run", "matrix", "compare", "build", "lab"} <= set(commands)
    for name, sub in {"d2lconv": parser, **commands}.items():
        assert sub.allow_abbrev is False, name


@pytest.mark.parametrize("argv, unknown", [
    (["matrix", "--chapters", "convolutions-for-images"], "--chapters"),  # not --chapters-dir
    (["run", "convolutions", "--back", "numpy"], "--back"),  # not --backend
    (["compare", "build", "--lab", "x"], "--lab"),  # not --label
    (["info", "--js"], "--js"),  # not --json
])
def test_a_prefix_of_an_option_is_an_unknown_option(capsys, argv, unknown):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"unrecognized arguments: {unknown}" in err, err
