"""The chapter matrix on a Dask distributed cluster: ``d2lconv matrix --scheduler ADDRESS|local``.

Each (chapter, backend) run is one Dask task. On the worker it writes the chapter's text into a
temporary folder and runs ``d2lconv run`` there in a subprocess - so a chapter or framework that
crashes takes down that subprocess, never the worker - and sends back the run's result and the
files it wrote. Only this process writes into the build directory, atomically, after a run's
task has finished: a worker that dies mid-run leaves nothing behind, and the scheduler gives the
task to another worker (up to its ``distributed.scheduler.allowed-failures`` deaths), after which
the run is reported as an error naming the lost workers. Workers need d2lconv, the chapter tools
and the frameworks installed, as for a local run; this module is imported only with ``--scheduler``.

Limits: Ctrl-C cancels the runs that have not started; a run already going on a worker finishes
there (its files are not written here). A worker killed outright leaves its temporary folder.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .chapters import write_together
from .environment import describe
from .matrix import Matrix, parse_run_output

FILE_KINDS = ("notebook", "html", "results")


def _pdeathsig() -> Any:
    """Linux: a function for the child (between fork and exec) that makes it get SIGTERM when the
    worker that started it dies, so no kernel is orphaned; None elsewhere. libc is looked up here,
    in the parent: importing or loading a library after fork could deadlock on a held lock."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes
        import signal

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run_on_worker(stem: str, suffix: str, source: bytes, backend: str, timeout: int,
                  verbose: bool = False, run_args: Sequence[str] = ()) -> dict[str, Any]:
    """Run one chapter on this worker in a subprocess; the run's result and the bytes of its files.
    ``run_args`` go to ``d2lconv run`` as they are (the chapter's ``-p NAME=VALUE``)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="d2lconv-run-") as tmp:
        chapter = Path(tmp) / "chapters" / f"{stem}{suffix}"
        chapter.parent.mkdir()
        chapter.write_bytes(source)  # bytes: the same file, so the same source_sha256, as a local run
        cmd = [sys.executable, "-m", "d2lconv.cli", "run", str(chapter), "--backend", backend,
               "--build-dir", str(Path(tmp) / "build"), "--timeout", str(timeout), "--json",
               *(["--verbose"] if verbose else []), *run_args]
        proc = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=_pdeathsig())  # noqa: PLW1509
        result = parse_run_output(stem, backend, proc.stdout, proc.stderr, proc.returncode,
                                  time.perf_counter() - started)
        files = {kind: (Path(result[kind]).name, Path(result[kind]).read_bytes())
                 for kind in FILE_KINDS if result.get(kind) and Path(result[kind]).is_file()}
    return {"result": result, "files": files}


class DaskMatrix(Matrix):
    """The matrix with every run sent to a Dask cluster: ``scheduler`` is its address
    (``tcp://host:8786``) or ``"local"`` for a local cluster of ``jobs`` single-threaded workers."""

    def __init__(self, *args: Any, scheduler: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scheduler = scheduler
        self._client: Any = None
        self._cluster: Any = None
        self._futures: set[Any] = set()

    def _open(self) -> dict[str, Any]:
        from distributed import Client, LocalCluster

        if self.scheduler == "local":
            self._cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(self.scheduler)  # waits distributed.comm.timeouts.connect (30 s)
            except (OSError, ValueError, TypeError) as exc:  # unreachable, or not an address
                raise ConnectionError(f"cannot reach the Dask scheduler at {self.scheduler!r} ({exc}); start "
                                      f"one with `dask scheduler` and workers with `dask worker ADDRESS`, "
                                      f"or use --scheduler local") from exc
        try:
            self._client.wait_for_workers(1, timeout=120)
            # the environment the runs execute in is a worker's, not necessarily this process's
            return self._client.submit(describe, self.label, pure=False).result()
        except Exception as exc:
            raise ConnectionError(f"the Dask cluster at {self.scheduler!r} cannot run d2lconv ({type(exc).__name__}: "
                                  f"{exc}); its workers need d2lconv and the chapter tools installed") from exc

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def _concurrency(self, n_runs: int) -> int:
        return max(1, n_runs)  # every run is submitted at once; the cluster decides what runs when

    def _stop_running(self) -> None:
        for future in list(self._futures):
            future.cancel()

    def _one(self, chapter: Path, backend: str) -> dict[str, Any]:
        from distributed import CancelledError, KilledWorker

        started = time.perf_counter()
        with self._lock:
            if self._stopping:
                return self._interrupted(chapter, backend)
            future = self._client.submit(run_on_worker, chapter.stem, chapter.suffix,
                                         chapter.read_bytes(), backend, self.timeout,
                                         self.verbose, self._parameter_args(chapter),
                                         key=f"d2lconv-{chapter.stem}-{backend}-{uuid.uuid4().hex[:8]}",
                                         pure=False)
            self._futures.add(future)
        failure = {"chapter": chapter.stem, "backend": backend, "status": "error"}
        try:
            payload = future.result()
        except KilledWorker as exc:
            return {**failure, "seconds": round(time.perf_counter() - started, 2),
                    "error": f"the Dask workers running it died ({exc}); the run was given up after the "
                             f"scheduler's allowed failures"}
        except CancelledError:
            return self._interrupted(chapter, backend)
        except Exception as exc:  # lost scheduler, unpicklable result, ...: reported, never lost
            return {**failure, "seconds": round(time.perf_counter() - started, 2),
                    "error": f"the Dask task failed: {type(exc).__name__}: {exc}"}
        finally:
            with self._lock:
                self._futures.discard(future)
        return self._store(payload, chapter, backend)

    def _store(self, payload: dict[str, Any], chapter: Path, backend: str) -> dict[str, Any]:
        """Write a finished run's files into the build directory (atomically) and point to them."""
        stem = chapter.stem
        result = {**payload["result"], "source": str(chapter.resolve())}
        out_dir = self.build_dir / backend
        for kind in FILE_KINDS:
            result[kind] = None
        write_together({out_dir / name: data for name, data in payload["files"].values()})  # all or none
        for kind, (name, _) in payload["files"].items():
            result[kind] = str(out_dir / name)
        if result.get("status") == "ok":
            for stale in (f"{stem}.failed.ipynb", f"{stem}.failed.html", f"{stem}.failed.results.json"):
                (out_dir / stale).unlink(missing_ok=True)
        return result
