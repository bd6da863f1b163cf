"""The chapter matrix through Dask: a scheduler and two workers started here in subprocesses,
on localhost, as a user would start them; one worker killed in the middle of a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import distributed  # the dev extra installs it (with psutil): no skip
import psutil
import pytest

from d2lconv.cli import main
from d2lconv.install import pip_install
from d2lconv.runner.merged import merge_builds
from d2lconv.testing import current

from .test_robustness import _chapter

pytestmark = [pytest.mark.chapter, pytest.mark.tooling]

DASK = str(Path(sys.executable).with_name("dask"))


def _start(args: list[str], log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([DASK, *args], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env={**os.environ, "D2LCONV_BACKEND": "", **env})


@pytest.fixture
def cluster(tmp_path):
    """``dask scheduler`` and two ``dask worker`` processes (no nanny: a killed worker stays dead)."""
    scheduler_file = tmp_path / "scheduler.json"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(scheduler_file)], tmp_path / "scheduler.log")]
    try:
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert scheduler_file.exists(), (tmp_path / "scheduler.log").read_text()
        address = json.loads(scheduler_file.read_text())["address"]
        workers = [_start(["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                           "--name", f"w{i}"], tmp_path / f"worker{i}.log") for i in range(2)]
        procs += workers
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _leftovers(build: Path) -> list[Path]:
    return [p for p in build.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".")]


def test_matrix_through_two_workers_survives_a_killed_worker_and_a_crashing_chapter(tmp_path, cluster):
    address, workers = cluster
    marker = tmp_path / "victim.pid"
    steady = _chapter(tmp_path, "steady", "import d2lconv as d2l\n"
                                          "d2l.record('x', d2l.corr2d(d2l.ones((3, 3)), d2l.ones((2, 2))))")
    # the first attempt notes its kernel's pid and waits to be killed with its worker; the retry runs through
    victim = _chapter(tmp_path, "victim", f"import os, pathlib, time\nimport d2lconv as d2l\n"
                                          f"m = pathlib.Path({str(marker)!r})\n"
                                          f"if not m.exists():\n    m.write_text(str(os.getpid()))\n"
                                          f"    time.sleep(300)\nd2l.record('y', [2.0])")
    crash = _chapter(tmp_path, "crash", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    backends = ["numpy", *current().others[:1]]
    build = tmp_path / "build"
    killed: dict[str, int] = {}

    def kill_the_victims_worker():
        deadline = time.time() + 240
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.2)
        kernel = psutil.Process(int(marker.read_text()))
        worker = next(w for w in workers if w.pid in {p.pid for p in kernel.parents()})
        killed["pid"] = worker.pid
        worker.send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_the_victims_worker, daemon=True)
    killer.start()
    started = time.perf_counter()
    code = main(["matrix", str(steady), str(victim), str(crash), "--backends", ",".join(backends),
                 "--build-dir", str(build), "--scheduler", address, "--no-progress", "--label", "cluster"])
    killer.join(timeout=1)
    assert "pid" in killed, "the victim chapter never started"
    summary = json.loads((build / "matrix.json").read_text())
    runs = {(r["chapter"], r["backend"]): r for r in summary["runs"]}
    assert len(runs) == 3 * len(backends)
    for name in backends:
        assert runs[("steady", name)]["status"] == "ok"
        assert json.loads((build / name / "steady.results.json").read_text())["x"]["values"] == [4.0] * 4
        assert runs[("crash", name)]["status"] == "failed"
        assert "crash" in runs[("crash", name)]["error"] and (build / name / "crash.failed.ipynb").exists()
        assert not (build / name / "crash.ipynb").exists()
    # the killed worker's run was given to the other worker: nothing lost, nothing half-written
    assert runs[("victim", "numpy")]["status"] == "ok", runs[("victim", "numpy")]
    assert json.loads((build / "numpy" / "victim.results.json").read_text())["y"]["values"] == [2.0]
    assert not _leftovers(build), _leftovers(build)
    assert code == 1  # the crashing chapter fails the matrix; everything else agrees
    assert not summary["agreement"]["disagreements"] and summary["environment"]["label"] == "cluster"
    survivors = [w for w in workers if w.pid != killed["pid"]]
    assert all(w.poll() is None for w in survivors), "a crashing chapter must not take its worker down"
    merged = merge_builds([build])
    assert {r["status"] for r in merged.runs} == {"ok", "failed"}
    print(f"matrix through the cluster: {time.perf_counter() - started:.1f}s")


def test_a_run_whose_workers_keep_dying_is_reported_not_lost(tmp_path):
    """With no failures allowed, the killed worker's run comes back as an error naming it."""
    marker = tmp_path / "victim.pid"
    victim = _chapter(tmp_path, "victim", f"import os, pathlib, time\n"
                                          f"pathlib.Path({str(marker)!r}).write_text(str(os.getpid()))\n"
                                          f"time.sleep(300)")
    steady = _chapter(tmp_path, "steady", "import d2lconv as d2l\nd2l.record('x', [1.0])")
    build = tmp_path / "build"
    scheduler_file = tmp_path / "scheduler.json"
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(scheduler_file)], tmp_path / "scheduler.log", **env)]
    try:
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        procs += [_start(["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"],
                         tmp_path / f"worker{i}.log") for i in range(2)]

        def kill():
            deadline = time.time() + 240
            while not marker.exists() and time.time() < deadline:
                time.sleep(0.2)
            kernel = psutil.Process(int(marker.read_text()))
            next(p for p in procs if p.pid in {q.pid for q in kernel.parents()}).send_signal(signal.SIGKILL)

        threading.Thread(target=kill, daemon=True).start()
        code = main(["matrix", str(victim), str(steady), "--backends", "numpy", "--build-dir", str(build),
                     "--scheduler", address, "--no-progress"])
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    runs = {r["chapter"]: r for r in json.loads((build / "matrix.json").read_text())["runs"]}
    assert code == 1
    assert runs["victim"]["status"] == "error" and "workers running it died" in runs["victim"]["error"]
    assert runs["steady"]["status"] == "ok"
    assert not (build / "numpy" / "victim.ipynb").exists() and not _leftovers(build)
    # the orphaned runner got SIGTERM with its worker (PR_SET_PDEATHSIG) and took its kernel along
    pid = int(marker.read_text())
    deadline = time.time() + 30
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE and time.time() < deadline:
        time.sleep(0.2)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_local_cluster_and_the_default_imports_no_dask(tmp_path):
    chapter = _chapter(tmp_path, "steady", "import d2lconv as d2l\nd2l.record('x', [1.0, 2.0])")
    assert main(["matrix", str(chapter), "--backends", "numpy", "--build-dir", str(tmp_path / "dask"),
                 "--scheduler", "local", "-j", "2", "--no-progress"]) == 0
    code = ("import sys\nfrom d2lconv.cli import main\n"
            f"code = main(['matrix', {str(chapter)!r}, '--backends', 'numpy', '--build-dir', "
            f"{str(tmp_path / 'plain')!r}, '--no-progress'])\n"
            "print(code, sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "D2LCONV_BACKEND": ""})
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr
    report = merge_builds([tmp_path / "dask", tmp_path / "plain"], ["dask", "plain"])
    assert report.ok and not report.disagreements and len(report.runs) == 2


def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    import dask

    chapter = _chapter(tmp_path, "steady", "x = 1")
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code = main(["matrix", str(chapter), "--backends", "numpy", "--build-dir", str(tmp_path / "b"),
                     "--scheduler", "tcp://127.0.0.1:9", "--no-progress"])
    assert code == 2
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in capsys.readouterr().err


def test_scheduler_without_dask_names_the_extra(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    chapter = _chapter(tmp_path, "steady", "x = 1")
    assert main(["matrix", str(chapter), "--build-dir", str(tmp_path / "b"), "--scheduler", "local"]) == 2
    assert pip_install("dask") in capsys.readouterr().err
