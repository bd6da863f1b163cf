"""The `d2lconv` command line: info and help."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from d2lconv.backend import BACKENDS
from d2lconv.cli import main
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
