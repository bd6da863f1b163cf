"""``d2lconv compare``: matrices made in different environments, merged into one table."""

from __future__ import annotations

import json
from pathlib import Path

from d2lconv.cli import main
from d2lconv.runner.merged import merge_builds


def fake_build(root: Path, label: str, runs: dict[tuple[str, str], list[float]], sha: str = "abc",
               status: str = "ok") -> Path:
    """A build directory as ``d2lconv matrix --label LABEL`` leaves it (results only, no notebooks)."""
    build = root / label
    records = []
    for (chapter, backend), values in runs.items():
        results = build / backend / f"{chapter}.results.json"
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps({"y": {"shape": [len(values)], "values": values}}))
        records.append({"chapter": chapter, "backend": backend, "status": status, "seconds": 1.0,
                        "results": f"/elsewhere/{backend}/{chapter}.results.json",  # made on another machine
                        "source_sha256": sha, "error": None if status == "ok" else "boom"})
    (build / "matrix.json").write_text(json.dumps({
        "ok": True, "interrupted": False, "runs": records,
        "environment": {"label": label, "python": "3.11", "numpy": "1.23.5" if label == "old" else "2.1.0",
                        "frameworks": {"mxnet": "1.9.1"} if label == "old" else {"jax": "0.6.0"}}}))
    return build


def test_two_environments_in_one_table(tmp_path, capsys):
    old = fake_build(tmp_path, "old", {("conv", "numpy"): [1.0, 2.0], ("conv", "mxnet"): [1.0, 2.00001]})
    new = fake_build(tmp_path, "new", {("conv", "numpy"): [1.0, 2.0], ("conv", "jax"): [1.0, 2.0]})
    assert main(["compare", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "old: Python 3.11, numpy 1.23.5, mxnet 1.9.1" in out and "new: Python 3.11, numpy 2.1.0, jax 0.6.0" in out
    rows = [line.split()[:3] for line in out.splitlines() if " @ " in line and "agrees" in line]
    assert rows == [["numpy", "@", "old"], ["numpy", "@", "new"], ["mxnet", "@", "old"], ["jax", "@", "new"]]
    assert out.rstrip().endswith("all runs agree")


def test_a_disagreement_across_environments_names_both_and_fails(tmp_path, capsys):
    old = fake_build(tmp_path, "old", {("conv", "numpy"): [1.0, 2.0]})
    new = fake_build(tmp_path, "new", {("conv", "jax"): [1.0, 2.5]})
    assert main(["compare", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "jax @ new/conv vs numpy @ old: 'y': 1 of 2 values differ; worst at 1: 2.5 vs 2" in out
    assert "DISAGREES" in out and "NOT all runs agree" in out


def test_different_chapter_sources_fail_and_labels_can_be_given(tmp_path):
    a = fake_build(tmp_path, "old", {("conv", "numpy"): [1.0]}, sha="aaaa")
    b = fake_build(tmp_path, "new", {("conv", "numpy"): [1.0]}, sha="bbbb")
    report = merge_builds([a, b], ["A", "B"])
    assert not report.ok
    assert report.source_mismatches == ["chapter 'conv' was run from different sources: A (aaaa), B (bbbb); "
                                        "rerun the matrix on the same checkout"]


def test_failed_runs_and_lone_runs_are_not_agreement(tmp_path, capsys):
    lone = fake_build(tmp_path, "old", {("conv", "numpy"): [1.0]})
    assert main(["compare", str(lone)]) == 1
    assert "nothing to compare for conv: fewer than two successful runs" in capsys.readouterr().out
    failed = fake_build(tmp_path, "new", {("conv", "jax"): [1.0]}, status="failed")
    assert main(["compare", str(lone), str(failed)]) == 1
    assert "jax @ new/conv: boom" in capsys.readouterr().out


def test_the_same_build_twice_is_refused(tmp_path, capsys):
    lone = fake_build(tmp_path, "old", {("conv", "numpy"): [1.0]})
    assert main(["compare", str(lone), str(tmp_path / "old" / ".." / "old")]) == 2
    assert "is given more than once" in capsys.readouterr().err


def test_infinities_and_nans_compare_only_with_themselves():
    from d2lconv.agreement import compare

    def rec(*values):
        return {"y": {"shape": [len(values)], "values": list(values)}}

    inf, nan = float("inf"), float("nan")
    assert compare(rec(inf, 1.0), rec(inf, 1.0)) == [] and compare(rec(nan, 2.0), rec(nan, 2.0)) == []
    assert compare(rec(inf, 1.0), rec(inf, 500.0)) == [("y", "1 of 2 values differ; worst at 1: 500 vs 1")]
    assert compare(rec(1.0), rec(nan)) == [("y", "1 of 1 values differ; worst at 0: nan vs 1")]
    assert compare(rec(inf), rec(-inf)) == [("y", "1 of 1 values differ; worst at 0: -inf vs inf")]


def test_bad_build_directories_are_named(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "nope")]) == 2
    assert f"{str(tmp_path / 'nope')!r} has no matrix.json: run `d2lconv matrix --build-dir" in capsys.readouterr().err
    good = fake_build(tmp_path, "old", {("conv", "numpy"): [1.0]})
    assert main(["compare", str(good), "--label", "a", "--label", "b"]) == 2
    assert "2 labels for 1 build directories" in capsys.readouterr().err
    (good / "numpy" / "conv.results.json").unlink()
    assert main(["compare", str(good)]) == 2
    assert "lists numpy/conv as ok but" in capsys.readouterr().err
