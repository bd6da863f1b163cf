"""The chapter runs, through the runner in a real Jupyter kernel, on every backend, and agrees."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from d2lconv.agreement import compare
from d2lconv.cli import main
from d2lconv.runner.chapters import ChapterError, resolve_chapter, run_chapter
from d2lconv.runner.matrix import Matrix, format_table
from d2lconv.testing import load_or_skip

pytestmark = pytest.mark.chapter
CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"
CHAPTER = CHAPTERS / "convolutions-for-images.md"


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


#: Every chapter of the book; the matrix test runs each on every tested backend.
ALL_CHAPTERS = sorted(CHAPTERS.glob("*.md"))
#: What each chapter's page must show: (figures at least, text printed by its cells).
PAGES = {
    "convolutions-for-images": (7, ["epoch 10, loss", "same outputs: True"]),
    "padding-and-strides": (5, ["after ten 5x5 convolutions: (200, 200)", "layer: (2, 2)",
                                "same as d2l.pad: True  same as numpy: True"]),
    "channels": (3, ["same as the definition: True", "forward multiplications: counted 1296  formula 1296",
                     "with a shuffle between: output group 0 depends on input groups [0, 1, 2, 3]"]),
    "pooling": (6, ["stride 2: identical maps: True"]),
    # the batch, the live training curves, the activations of exercise 4 (the exercises' boards are off)
    "lenet": (3, ["in all: 61706", "60000 training and 10000 test images", "469 steps per epoch",
                  "ReLU and max-pooling, lr 0.1"]),
}
#: A float32 printed through float64: 0.850600004196167, 0.9097999930381775 (float32: lines show it on purpose)
FLOAT32_NOISE = re.compile(r"\d\.\d*(?:00000|99999)\d")
#: The book's numbers, recorded by the chapters: (chapter, name) -> values.
BOOK_NUMBERS = {
    ("convolutions-for-images", "book example"): [19.0, 25.0, 37.0, 43.0],
    ("padding-and-strides", "strided book example"): [0.0, 8.0, 6.0, 8.0],
    ("padding-and-strides", "ten 5x5 layers"): [200.0, 200.0],
    ("channels", "two input channels"): [56.0, 72.0, 104.0, 120.0],
    ("channels", "three output channels"): [56.0, 72.0, 104.0, 120.0, 76.0, 100.0, 148.0, 172.0,
                                            96.0, 128.0, 192.0, 224.0],
    ("pooling", "max pooling 3x3"): [4.0, 5.0, 7.0, 8.0],
    ("pooling", "average pooling 3x3"): [2.0, 3.0, 5.0, 6.0],
    ("pooling", "MaxPool2D(3)"): [10.0],
    ("pooling", "MaxPool2D(3, padding=1, stride=2)"): [5.0, 7.0, 13.0, 15.0],
    ("pooling", "MaxPool2D((2, 3), stride=(2, 3), padding=(0, 1))"): [5.0, 7.0, 13.0, 15.0],
    ("pooling", "two channels pooled"): [5.0, 7.0, 13.0, 15.0, 6.0, 8.0, 14.0, 16.0],
    ("lenet", "parameter count"): [61706.0],
}


@pytest.fixture(scope="session")
def matrix_run(tmp_path_factory, d2lconv_backends):
    """One matrix run of every chapter on every backend this environment tests, each chapter in its
    short test configuration (its front matter's test-parameters; `d2lconv matrix --test-parameters`)."""
    for name in d2lconv_backends:
        load_or_skip(name)
    # nox keeps each environment's build (D2LCONV_MATRIX_BUILD) for its `agreement` session
    kept = os.environ.get("D2LCONV_MATRIX_BUILD")
    build = Path(kept) if kept else tmp_path_factory.mktemp("build")
    before = tree_digest(CHAPTERS)
    matrix = Matrix(ALL_CHAPTERS, d2lconv_backends, build, jobs=2, progress=False,
                    label=build.name if kept else None, test_parameters=True)
    report = matrix.run()
    return report, build, before, matrix


def test_every_chapter_has_page_checks():
    assert {p.stem for p in ALL_CHAPTERS} == set(PAGES)


@pytest.mark.parametrize("chapter", [p.stem for p in ALL_CHAPTERS])
def test_chapter_runs_on_backend(matrix_run, backend_name, chapter):
    name = backend_name
    report, build, _, _ = matrix_run
    run = next(r for r in report.runs if r["backend"] == name and r["chapter"] == chapter)
    assert run["status"] == "ok", run.get("error")
    figures, texts = PAGES[chapter]
    html = Path(run["html"]).read_text()
    assert html.count("data:image/png") >= figures, "the HTML page should embed the chapter's figures"
    notebook = json.loads(Path(run["notebook"]).read_text())
    outputs = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert f"running on the {name!r} backend" in text
    # clean pages: no framework log lines, no stray values of d2l.record, numbers rounded for people
    assert not [o for o in outputs if o.get("name") == "stderr"], "stderr on the page"
    for cell in notebook["cells"]:
        last = "".join(cell["source"]).strip().splitlines()[-1:] if cell["cell_type"] == "code" else []
        if last and last[0].startswith("d2l.record("):
            assert not [o for o in cell["outputs"] if o["output_type"] == "execute_result"], last
    noisy = [line for line in text.splitlines() if FLOAT32_NOISE.search(line) and "float32:" not in line]
    assert not noisy, noisy
    for expected in texts:
        assert expected in text
    recorded = json.loads(Path(run["results"]).read_text())
    for (where, key), values in BOOK_NUMBERS.items():
        if where == chapter:
            assert recorded[key]["values"] == values, key
    if chapter == "convolutions-for-images":
        assert "gradient through d2l.corr2d" in recorded and "gradient through d2l.corr2d_loop" in recorded
    assert Path(run["notebook"]).parent == (build / name).absolute()


def test_backends_agree_and_sources_untouched(matrix_run, d2lconv_backends):
    report, build, before, matrix = matrix_run
    assert report.ok, format_table(report, d2lconv_backends)
    assert not report.disagreements
    summary = json.loads(matrix.summary_path.read_text())
    assert summary["ok"] and len(summary["runs"]) == len(d2lconv_backends) * len(ALL_CHAPTERS)
    # each chapter ran in its own test configuration, as nox's check of a kept matrix expects
    assert all(r["parameters"] == r["test_parameters"] for r in summary["runs"]), summary["runs"]
    assert tree_digest(CHAPTERS) == before, "running chapters must never modify chapters/"


def test_chapters_place_themselves_in_the_books_order(matrix_run, d2lconv_backends):
    """Each chapter's front matter holds its section (7.2 ...); the runs record it, the table follows it."""
    from d2lconv.runner.chapters import read_notebook
    from d2lconv.sections import section_key, section_of

    sections = {p.stem: section_of(read_notebook(p).metadata) for p in ALL_CHAPTERS}
    book = ["convolutions-for-images", "padding-and-strides", "channels", "pooling", "lenet"]
    assert sorted(sections, key=lambda c: section_key(c, sections[c])) == book
    assert [sections[c] for c in book] == ["7.2", "7.3", "7.4", "7.5", "7.6"]
    report = matrix_run[0]
    assert {r["chapter"]: r["section"] for r in report.runs} == sections
    assert format_table(report, d2lconv_backends).splitlines()[0].split()[1:] == book


def test_the_run_pages_read_offline(matrix_run, d2lconv_backends):
    """A chapter's page from `d2lconv run`: its math typeset by the build directory's MathJax in
    Chromium with the network blocked, nothing loaded from elsewhere."""
    from .test_site import assert_run_page_is_offline, browser_check

    report = matrix_run[0]
    run = next(r for r in report.runs if r["chapter"] == "convolutions-for-images")
    assert_run_page_is_offline(Path(run["html"]))
    out = browser_check("--run-page", run["html"])
    assert re.search(r"ok +math: [1-9]\d* formulas typeset by MathJax, 0 left as raw TeX", out), out


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_compare_finds_disagreements():
    ref = {"a": {"shape": [2], "values": [1.0, 2.0]}, "b": {"shape": [1], "values": [3.0]}}
    assert compare(ref, ref) == []
    other = {"a": {"shape": [2], "values": [1.0, 2.01]}, "c": {"shape": [1], "values": [0.0]}}
    problems = dict(compare(ref, other))
    assert "1 of 2 values differ" in problems["a"]
    assert problems["b"] == problems["c"] == "recorded on one backend only"
    assert "shape" in dict(compare(ref, {**ref, "a": {"shape": [1, 2], "values": [1.0, 2.0]}}))["a"]


def failing_chapter(folder: Path) -> Path:
    path = folder / "broken.md"
    path.write_text("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
                    "kernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n# Broken\n\n"
                    "```{code-cell} ipython3\nimport d2lconv as d2l\nd2l.record('x', [1.0])\n```\n\n"
                    "```{code-cell} ipython3\nd2l.corr2d(d2l.ones((2, 2)), d2l.ones((3, 3)))\n```\n")
    return path


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_failing_cell_names_chapter_cell_and_backend(tmp_path, capsys):
    chapter = failing_chapter(tmp_path)
    good = tmp_path / "build" / "numpy" / "broken.ipynb"
    good.parent.mkdir(parents=True)
    good.write_text("last good run")
    result = run_chapter(chapter, "numpy", tmp_path / "build")
    assert result.status == "failed" and result.cell == 2
    assert "chapter 'broken' failed on backend 'numpy' at code cell 2" in result.error
    assert "larger than the image" in result.error
    assert good.read_text() == "last good run", "a failed run must not replace the last good output"
    assert Path(result.notebook).name == "broken.failed.ipynb"
    code = main(["run", str(chapter), "--backend", "numpy", "--build-dir", str(tmp_path / "build")])
    assert code == 1
    assert "code cell 2" in capsys.readouterr().err


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_a_cell_that_times_out_is_named(tmp_path):
    """A timeout gets no error reply from the kernel: the cell that was running is named all the same."""
    slow = tmp_path / "slow.md"
    slow.write_text(failing_chapter(tmp_path).read_text().replace(
        "d2l.corr2d(d2l.ones((2, 2)), d2l.ones((3, 3)))", "import time\ntime.sleep(60)"))
    result = run_chapter(slow, "numpy", tmp_path / "build", timeout=3)
    assert result.status == "failed" and result.cell == 2
    assert result.error.startswith("chapter 'slow' failed on backend 'numpy' at code cell 2: CellTimeoutError: "
                                   "A cell timed out while it was being executed, after 3 seconds"), result.error


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_matrix_keeps_other_results_when_one_fails(tmp_path):
    chapter = failing_chapter(tmp_path)
    good = tmp_path / "fine.md"
    good.write_text(chapter.read_text().split("```{code-cell} ipython3\nd2l.corr2d")[0])
    matrix = Matrix([chapter, good], ["numpy"], tmp_path / "out", jobs=2, progress=False)
    report = matrix.run()
    assert not report.ok
    by_chapter = {r["chapter"]: r for r in report.runs}
    assert by_chapter["broken"]["status"] == "failed" and by_chapter["fine"]["status"] == "ok"
    summary = json.loads(matrix.summary_path.read_text())
    assert {r["chapter"] for r in summary["runs"]} == {"broken", "fine"}
    assert json.loads(Path(by_chapter["fine"]["results"]).read_text())["x"]["values"] == [1.0]
    assert "code cell 2" in format_table(report, ["numpy"])


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_chapter_without_code_cells_is_an_error(tmp_path):
    empty = tmp_path / "prose.md"
    empty.write_text("# Only prose\n\nNo code here.\n")
    with pytest.raises(ChapterError, match="has no code cells"):
        run_chapter(empty, "numpy", tmp_path / "build")


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_short_names_resolve_from_any_directory(tmp_path, monkeypatch):
    """Outside the checkout (no ./chapters), short names find this checkout's chapters."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("D2LCONV_CHAPTERS", raising=False)
    assert resolve_chapter("convolutions") == CHAPTER
    monkeypatch.setenv("D2LCONV_CHAPTERS", str(tmp_path))
    with pytest.raises(ChapterError, match="no chapter 'convolutions'"):
        resolve_chapter("convolutions")


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_unknown_chapter(capsys):
    with pytest.raises(ChapterError, match=r"no chapter 'nope'.*convolutions-for-images"):
        resolve_chapter("nope", CHAPTERS)
    assert resolve_chapter("convolutions", CHAPTERS) == CHAPTER
    assert main(["run", "nope", "--chapters-dir", str(CHAPTERS)]) == 2
    assert "no chapter 'nope'" in capsys.readouterr().err


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_unwritable_build_dir(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code = main(["run", str(CHAPTER), "--build-dir", str(blocker / "build")])
    assert code == 2
    assert "cannot write to the build directory" in capsys.readouterr().err


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_build_dir_may_not_be_the_chapters_folder(tmp_path, capsys):
    source = tmp_path / "numpy"
    source.mkdir()
    chapter = failing_chapter(source)
    assert main(["run", str(chapter), "--backend", "numpy", "--build-dir", str(tmp_path)]) == 2
    assert "never go next to the sources" in capsys.readouterr().err
