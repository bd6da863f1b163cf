"""Chapter parameters (papermill's convention): ``d2lconv run CHAPTER -p NAME=VALUE``, the chapter's
own ``test-parameters``, what the runs record, and runs with different parameters never compared.

The runner on numpy and tiny chapters: the same in every environment (``tooling``)."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from d2lconv.cli import build_parser, join_name_value, main
from d2lconv.runner.chapters import read_notebook, run_chapter
from d2lconv.runner.matrix import Matrix, format_table
from d2lconv.runner.merged import BuildError, merge_builds
from d2lconv.runner.parameters import (
    INJECTED_TAG,
    ParameterError,
    collect,
    inject,
    parse_value,
    plan,
    resolve,
)

from .test_compare import fake_build

pytestmark = pytest.mark.tooling

FRONT = ("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
         "kernelspec:\n  name: python3\n  display_name: Python 3\n{extra}---\n\n")
PARAMETERS_CELL = ('```{code-cell} ipython3\n:tags: [parameters]\n\nmax_epochs = 10  # the full run\n'
                   'lr = 0.1\noptimizer = "sgd"\n```\n\n')
BODY = ("# Tiny training\n\nA chapter with a parameters cell.\n\n"
        "```{code-cell} ipython3\nimport d2lconv as d2l\n```\n\n"
        "{parameters}"
        "```{code-cell} ipython3\nassert max_epochs > 0, 'max_epochs must be positive'\n"
        "print(f'max_epochs={max_epochs!r} lr={lr!r} optimizer={optimizer!r}')\n"
        "d2l.record('schedule', [float(max_epochs), lr])\n```\n")


def chapter(folder: Path, name: str = "tiny-training", test_parameters: str | None = "{max_epochs: 1, lr: 0.2}",
            parameters: str = PARAMETERS_CELL) -> Path:
    """A tiny chapter: a parameters cell (max_epochs, lr, optimizer) and a cell that prints them."""
    extra = f"d2lconv:\n  test-parameters: {test_parameters}\n" if test_parameters is not None else ""
    path = folder / f"{name}.md"
    path.write_text(FRONT.replace("{extra}", extra) + BODY.replace("{parameters}", parameters))
    return path


def plain_chapter(folder: Path, name: str = "plain") -> Path:
    path = folder / f"{name}.md"
    path.write_text(FRONT.replace("{extra}", "") + "# Plain\n\n```{code-cell} ipython3\nimport d2lconv as d2l\n"
                    "print('plain')\nd2l.record('one', [1.0])\n```\n")
    return path


def printed(notebook: Path) -> str:
    nb = json.loads(notebook.read_text())
    return "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))


# --- the injected cell ---------------------------------------------------------------------------

def test_the_injected_cell_comes_right_after_the_parameters_cell(tmp_path):
    path = chapter(tmp_path)
    nb = read_notebook(path)
    before = [(c.cell_type, c.source) for c in nb.cells]
    at = inject(nb, resolve(nb, "tiny-training", {"lr": 0.5, "max_epochs": 2}), "tiny-training")
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags.index(["parameters"]) + 1 == at == tags.index([INJECTED_TAG])
    # the parameters cell's order, papermill's comment; every other cell as it was
    assert nb.cells[at].source == "# Parameters\nmax_epochs = 2\nlr = 0.5"
    assert [(c.cell_type, c.source) for i, c in enumerate(nb.cells) if i != at] == before
    assert nb.metadata["d2lconv"]["injected-parameters"] == {"max_epochs": "2", "lr": "0.5"}
    # injecting again replaces the injected cell (as papermill does), never adds a second one
    inject(nb, {"max_epochs": 3}, "tiny-training")
    injected = [c.source for c in nb.cells if INJECTED_TAG in c.metadata.get("tags", [])]
    assert injected == ["# Parameters\nmax_epochs = 3"]
    assert inject(nb, {}, "tiny-training") is None  # nothing to inject: the notebook as it is


def test_values_are_python_literals_else_strings():
    assert collect(["a=1", "b=0.5", "c='adam'", "d=adam", "e=[3, 3]", "f=None", "g=True", "h=", "i=1e", "j=a=b"]) == {
        "a": 1, "b": 0.5, "c": "adam", "d": "adam", "e": [3, 3], "f": None, "g": True, "h": "", "i": "1e", "j": "a=b"}
    assert parse_value("(1, 2)") == (1, 2) and parse_value("-0.5") == -0.5 and parse_value("import os") == "import os"


@pytest.mark.chapter
def test_values_reach_the_kernel_and_the_chapter_file_is_unchanged(tmp_path, capsys):
    path = chapter(tmp_path)
    source = path.read_bytes()
    build = tmp_path / "build"
    code = main(["run", str(path), "--backend", "numpy", "--build-dir", str(build), "--json",
                 "-p", "max_epochs", "3", "-p", "optimizer=adam"])  # both spellings; 'adam' is no literal: a string
    assert code == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert "max_epochs=3 lr=0.1 optimizer='adam'" in printed(Path(result["notebook"]))
    assert path.read_bytes() == source, "a run with parameters must never change the chapter file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "tiny-training.md"]
    # what ran is recorded: the values injected (as the literals the cell assigns), the chapter's own
    # test configuration, the injected cell in the executed notebook
    assert result["parameters"] == {"max_epochs": "3", "optimizer": "'adam'"}
    assert result["test_parameters"] == {"max_epochs": "1", "lr": "0.2"}
    assert json.loads(Path(result["results"]).read_text())["schedule"]["values"] == [3.0, 0.1]
    nb = json.loads(Path(result["notebook"]).read_text())
    assert nb["metadata"]["d2lconv"]["injected-parameters"] == {"max_epochs": "3", "optimizer": "'adam'"}
    # a failing cell is numbered as in the chapter, which has no injected cell
    code = main(["run", str(path), "--backend", "numpy", "--build-dir", str(build), "-p", "max_epochs=0"])
    assert code == 1
    assert "at code cell 3: AssertionError: max_epochs must be positive" in capsys.readouterr().err
    assert path.read_bytes() == source


@pytest.mark.chapter
def test_test_parameters_from_the_front_matter_and_explicit_values_win(tmp_path):
    path = chapter(tmp_path)
    nb = read_notebook(path)
    assert resolve(nb, "t", None, use_test_parameters=True) == {"max_epochs": 1, "lr": 0.2}
    assert resolve(nb, "t", {"lr": 0.5}, use_test_parameters=True) == {"max_epochs": 1, "lr": 0.5}
    assert resolve(nb, "t", {"lr": 0.5}) == {"lr": 0.5}
    assert resolve(nb, "t") == {}  # without the flag: the chapter's own values, nothing injected
    result = run_chapter(path, "numpy", tmp_path / "build", parameters={"lr": 0.5}, test_parameters=True)
    assert result.status == "ok", result.error
    assert "max_epochs=1 lr=0.5 optimizer='sgd'" in printed(Path(result.notebook))
    assert result.parameters == {"max_epochs": "1", "lr": "0.5"}


@pytest.mark.chapter
def test_a_matrix_records_each_chapters_parameters(tmp_path):
    """-p goes to the chapters that declare the name; the others run as they are; matrix.json, the
    table and a later matrix all know which parameters each run had."""
    tiny, plain = chapter(tmp_path), plain_chapter(tmp_path)
    matrix = Matrix([tiny, plain], ["numpy"], tmp_path / "build", jobs=2, progress=False,
                    parameters={"max_epochs": 2}, test_parameters=True)
    report = matrix.run()
    assert report.ok, report.runs
    runs = {r["chapter"]: r for r in json.loads(matrix.summary_path.read_text())["runs"]}
    assert runs["tiny-training"]["parameters"] == {"max_epochs": "2", "lr": "0.2"}
    assert runs["plain"]["parameters"] == {} and runs["plain"]["test_parameters"] == {}
    assert "max_epochs=2 lr=0.2 optimizer='sgd'" in printed(Path(runs["tiny-training"]["notebook"]))
    assert "tiny-training was run with parameters: max_epochs=2, lr=0.2" in format_table(report, ["numpy"])
    # a later matrix keeps the earlier runs only where it would give the chapter the same parameters
    env = report.environment
    same = Matrix([tiny], ["numpy"], tmp_path / "build", parameters={"max_epochs": 2}, test_parameters=True)
    assert {r["chapter"] for r in same.earlier_runs(env, set())} == {"tiny-training", "plain"}
    full = Matrix([tiny], ["numpy"], tmp_path / "build")  # the chapter's own values this time
    assert {r["chapter"] for r in full.earlier_runs(env, set())} == {"plain"}


# --- errors ------------------------------------------------------------------------------------

def run_error(capsys, *argv: str) -> str:
    """Run ``d2lconv ARGV``; it must be a usage error (exit 2): its message."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_name_the_parameters_cell_does_not_assign_lists_those_it_does(tmp_path, capsys):
    path = chapter(tmp_path)
    err = run_error(capsys, "run", str(path), "-b", "numpy", "--build-dir", str(tmp_path / "b"), "-p", "epochs=1")
    assert "chapter 'tiny-training' has no parameter 'epochs': its parameters cell assigns max_epochs, lr, " \
           "optimizer" in err
    assert not (tmp_path / "b" / "numpy" / "tiny-training.ipynb").exists()  # nothing ran


def test_a_chapter_without_a_parameters_cell_takes_no_p(tmp_path, capsys):
    path = plain_chapter(tmp_path)
    err = run_error(capsys, "run", str(path), "--build-dir", str(tmp_path / "b"), "-p", "max_epochs=1")
    assert "chapter 'plain' has no parameters cell (a code cell tagged 'parameters'), so -p cannot set " \
           "max_epochs" in err


@pytest.mark.parametrize("argv, message", [
    (["-p", "max_epochs"], "'max_epochs': give NAME=VALUE (or NAME VALUE), e.g. -p max_epochs=1"),
    (["-p", "max-epochs=1"], "'max-epochs' is not a Python name"),
    (["-p", "=1"], "'' is not a Python name"),
    (["-p", "class=1"], "'class' is not a Python name"),
    (["-p", "max_epochs", "--backend", "numpy"], "'max_epochs': give NAME=VALUE"),  # an option is no value
    (["-p", "lr=1", "-p", "lr", "2"], "-p lr is given twice"),
])
def test_a_malformed_p_is_a_usage_error(tmp_path, capsys, argv, message):
    path = chapter(tmp_path)
    err = run_error(capsys, "run", str(path), "--build-dir", str(tmp_path / "b"), *argv)
    assert message in err, err


def test_a_matrix_parameter_no_chapter_declares_names_the_chapters_and_theirs(tmp_path, capsys):
    tiny, plain = chapter(tmp_path), plain_chapter(tmp_path)
    err = run_error(capsys, "matrix", str(tiny), str(plain), "--backends", "numpy", "--build-dir",
                    str(tmp_path / "b"), "--no-progress", "-p", "epochs=1", "-p", "lr=0.5")
    assert ("no chapter of this run has a parameter 'epochs' (tiny-training: its parameters cell assigns "
            "max_epochs, lr, optimizer; plain: no parameters cell)") in err
    assert not (tmp_path / "b" / "matrix.json").exists()
    with pytest.raises(ParameterError, match="no chapter of this run has a parameter 'lr'"):
        plan([plain], {"lr": 0.5}, False, read_notebook)


@pytest.mark.parametrize("test_parameters, parameters, message", [
    ("{epochs: 1}", PARAMETERS_CELL, "test-parameters sets epochs, which the chapter does not declare "
                                     "(its parameters cell assigns max_epochs, lr, optimizer)"),
    ("[1, 2]", PARAMETERS_CELL, "test-parameters must be a mapping ({max_epochs: 1}), not [1, 2]"),
    ("{max_epochs: 1}", "", "sets max_epochs, which the chapter does not declare (no parameters cell)"),
    ("{max_epochs: 2020-01-01}", PARAMETERS_CELL, "is not a Python literal a cell can assign"),
    (None, PARAMETERS_CELL + PARAMETERS_CELL, "has 2 cells tagged 'parameters' (code cells 2, 3); a chapter "
                                              "has at most one"),
    (None, PARAMETERS_CELL.replace("lr = 0.1", "lr = = 0.1"), "its parameters cell (code cell 2) is not "
                                                             "plain Python assignments"),
])
def test_a_chapter_whose_parameters_do_not_fit_is_named(tmp_path, capsys, test_parameters, parameters, message):
    path = chapter(tmp_path, test_parameters=test_parameters, parameters=parameters)
    for command in (["run", str(path), "--test-parameters"], ["matrix", str(path), "--test-parameters",
                                                             "--backends", "numpy", "--no-progress"]):
        err = run_error(capsys, *command, "--build-dir", str(tmp_path / "b"))
        assert "chapter 'tiny-training'" in err and message in err, err


# --- the command line ---------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["run", "matrix"])
def test_both_spellings_parse_the_same_and_the_help_shows_an_example(command):
    parser = build_parser()
    for argv in (["-p", "max_epochs=1", "lenet", "-p", "lr", "-0.5"],  # a positional after -p stays one
                 ["lenet", "-p", "max_epochs", "1", "--parameter=lr", "-0.5"],
                 ["lenet", "--parameter", "max_epochs=1", "-p", "lr=-0.5"]):
        args = parser.parse_args([command, *argv])
        assert args.parameters == ["max_epochs=1", "lr=-0.5"], argv
        assert (args.chapter if command == "run" else args.chapters) in ("lenet", ["lenet"])
    assert parser.parse_args([command, "lenet"]).parameters is None
    help_text = " ".join(subparser_help(parser, command).split())
    assert f"d2lconv {command} lenet -p max_epochs=1" in help_text and "--test-parameters" in help_text


def subparser_help(parser, command: str) -> str:
    from .test_cli import subparsers

    return subparsers(parser)[command].format_help()


def test_joining_touches_only_the_parameter_option():
    options, known = ("-p", "--parameter"), {"-p", "--parameter", "-b", "--backend", "-v"}
    assert join_name_value(["-p", "t", "a=b"], options, known) == ["-p", "t=a=b"]  # a value may hold '='
    assert join_name_value(["-b", "numpy", "x", "y"], options, known) == ["-b", "numpy", "x", "y"]
    assert join_name_value(["-p", "n", "-v"], options, known) == ["-p", "n", "-v"]
    assert join_name_value(["--", "-p", "n", "1"], options, known) == ["--", "-p", "n", "1"]


# --- runs with different parameters are never compared --------------------------------------------

def with_parameters(build: Path, parameters: dict[str, str]) -> Path:
    summary = json.loads((build / "matrix.json").read_text())
    for run in summary["runs"]:
        run["parameters"] = parameters
    (build / "matrix.json").write_text(json.dumps(summary))
    return build


def test_compare_refuses_runs_made_with_different_parameters(tmp_path, capsys):
    old = with_parameters(fake_build(tmp_path, "old", {("lenet", "numpy"): [1.0], ("lenet", "mxnet"): [1.0]}),
                          {"max_epochs": "1"})
    new = fake_build(tmp_path, "new", {("lenet", "numpy"): [1.0], ("lenet", "jax"): [1.0]})
    with pytest.raises(BuildError) as info:
        merge_builds([old, new])
    message = str(info.value)
    assert ("chapter 'lenet' was run with different parameters: numpy @ old, mxnet @ old with max_epochs=1; "
            "numpy @ new, jax @ new with the chapter's own values") in message
    assert main(["compare", str(old), str(new)]) == 2
    assert "d2lconv compare: error: chapter 'lenet' was run with different parameters" in capsys.readouterr().err
    with_parameters(new, {"max_epochs": "1"})  # the same parameters on both sides: compared as usual
    report = merge_builds([old, new])
    assert report.ok
    assert "lenet was run with parameters: max_epochs=1" in report.format()


# --- the site and nox ------------------------------------------------------------------------------

def test_the_site_page_notes_the_parameters_under_its_title(tmp_path):
    import nbformat

    from d2lconv.site.merge import merge_chapter

    def notebook(backend: str, metadata: dict) -> tuple[Path, str]:
        nb = nbformat.v4.new_notebook(metadata={"d2lconv": metadata})
        nb.cells = [nbformat.v4.new_markdown_cell("# LeNet\n\nIntro."), nbformat.v4.new_code_cell("x = 1")]
        path = tmp_path / f"{backend}.ipynb"
        nbformat.write(nb, path)
        return path, "ok"

    ran = {"injected-parameters": {"max_epochs": "1"}, "test-parameters": {"max_epochs": 1}}
    merged = merge_chapter("lenet", {"numpy": notebook("numpy", ran), "torch": notebook("torch", ran)})
    title = merged.cells[0].source
    assert title.startswith("# LeNet\n\n```{note}\nThis page was run with parameters: `max_epochs = 1` - the "
                            "chapter's short test configuration.") and title.endswith("\n\nIntro.")
    plain = merge_chapter("lenet", {"numpy": notebook("numpy", {})})
    assert plain.cells[0].source == "# LeNet\n\nIntro."


def test_nox_reuses_a_matrix_only_if_it_ran_the_test_parameters(tmp_path, monkeypatch):
    """noxfile._matrix_is_current (with a stand-in for nox, which the test environments lack)."""
    stub = types.ModuleType("nox")
    stub.options = types.SimpleNamespace()
    stub.session = lambda *args, **kwargs: args[0] if args and callable(args[0]) else (lambda f: f)
    monkeypatch.setitem(sys.modules, "nox", stub)
    spec = importlib.util.spec_from_file_location("d2lconv_noxfile", Path(__file__).parent.parent / "noxfile.py")
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)

    monkeypatch.chdir(tmp_path)
    (tmp_path / "chapters").mkdir()
    path = chapter(tmp_path / "chapters", name="lenet")
    sha = __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    build = tmp_path / "build"
    build.mkdir()

    def current(**run) -> bool:
        record = {"chapter": "lenet", "backend": "numpy", "status": "ok", "source_sha256": sha, **run}
        (build / "matrix.json").write_text(json.dumps({"interrupted": False, "runs": [record]}))
        return noxfile._matrix_is_current(build, "numpy")

    test = {"max_epochs": "1", "lr": "0.2"}
    assert current(parameters=test, test_parameters=test)
    assert not current(parameters={}, test_parameters=test)  # the full run: not what the tests run
    assert not current(parameters={"max_epochs": "2", "lr": "0.2"}, test_parameters=test)
    assert not current()  # made before runs recorded their parameters
    assert not current(parameters=test, test_parameters=test, source_sha256="0" * 64)
