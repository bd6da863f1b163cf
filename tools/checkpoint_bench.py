"""Checkpoints of d2lconv's LeNet on every backend: how big they are, how fast ``d2l.save`` and
``d2l.load`` are, whether a checkpoint written on one backend predicts the same on the others,
and what checkpointing every epoch costs a ``Trainer`` run.

    OMP_NUM_THREADS=1 python tools/checkpoint_bench.py                  # the full run (~10 minutes)
    python tools/checkpoint_bench.py --quick                            # smoke run, well under a minute per backend
    python tools/checkpoint_bench.py --backends numpy,torch --sections saveload --json build/ckpt.json

Sections (``--sections``, all by default):

- saveload: per backend, a LeNet fitted by a ``Trainer`` (so the file holds the trainer's state:
  optimizer state, epoch, step, generator states, history); the checkpoint's size, and the median
  over ``--repeats`` of ``d2l.save(model, path)`` (atomic, fsync'd) and of ``d2l.load(LeNet(), path)``
  into a fresh, unbuilt model (which builds its lazy layers from the recorded example input);
- cross: LeNet trained on ``--source`` for ``--epochs`` at lr 0.9 from ``d2l.seed(0)`` and saved; then
  each backend, in its own process, loads the file and classifies the test images: its accuracy,
  how many predictions differ from the source's in-memory model's, and the largest logit difference;
- overhead: ``Trainer(max_epochs=E).fit`` with and without ``checkpoint_dir`` on one backend, in one
  process, after a warm-up, interleaved ABBA over ``--overhead-rounds`` rounds; both wall times,
  their difference, and the time spent in the trainer's checkpoint writes (timed directly).

Each measurement runs in a subprocess of its own (``--worker``), one backend per process, one at a
time, with ``--threads`` compute threads (TensorFlow and MXNet cannot share a process in that order);
results come back as JSON on stdout. Wall times depend on what else the machine is doing: the
load average before and after is printed with the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

BACKENDS = ("numpy", "torch", "tensorflow", "mxnet", "jax")
SECTIONS = ("saveload", "cross", "overhead")
RESULT_PREFIX = "CHECKPOINT_BENCH_RESULT "
LR = 0.9
BATCH_SIZE = 128
FULL_TRAIN, FULL_TEST = 60_000, 10_000


@dataclass
class Settings:
    """Everything a run measures with, after ``--quick`` has filled in what was not given."""

    backends: list[str]
    sections: list[str]
    repeats: int
    source: str
    epochs: int
    train_examples: int
    test_examples: int
    saveload_examples: int
    overhead_backend: str
    overhead_epochs: int
    overhead_examples: int
    overhead_rounds: int
    threads: int
    quick: bool


# -- workers (one backend per process) -------------------------------------------------------------


def _data(train_examples: int, test_examples: int) -> Any:
    """Fashion-MNIST in batches of 128, cut to the first ``train_examples`` / ``test_examples``."""
    import d2lconv as d2l

    data = d2l.FashionMNIST(batch_size=BATCH_SIZE)
    if train_examples < len(data.train):
        data.train = data.train.subset(train_examples)
    if test_examples < len(data.val):
        data.val = data.val.subset(test_examples)
    return data


def _lenet(data: Any) -> Any:
    """A LeNet at lr 0.9 with the book's initialisation, from ``d2l.seed(0)``, its board silent."""
    import d2lconv as d2l

    d2l.seed(0)
    model = d2l.LeNet(lr=LR)
    model.apply_init([next(iter(data.get_dataloader(True)))[0]], d2l.init_cnn)
    model.board.display = False
    return model


def _logits(model: Any, data: Any) -> np.ndarray:
    """The model's logits for every test image, in the file's order, as a host array."""
    from d2lconv.backend import ops

    B = ops()
    return np.concatenate([B.numpy(model(X)) for X, _ in data.get_dataloader(False)])


def _accuracy(logits: np.ndarray, data: Any) -> float:
    return float(np.mean(logits.argmax(axis=1) == data.val.labels[: len(logits)]))


def _milliseconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def _timed_load(path: Path) -> tuple[Any, float]:
    """A new, unbuilt LeNet (made before the clock starts) with ``path`` loaded, and the load's milliseconds."""
    import d2lconv as d2l

    fresh = d2l.LeNet()
    return fresh, _milliseconds(lambda: d2l.load(fresh, path))


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def worker_saveload(backend: str, examples: int, test_examples: int, repeats: int, workdir: str) -> dict[str, Any]:
    """Size, save and load times of a checkpoint of a LeNet fitted for one epoch by a Trainer."""
    import d2lconv as d2l

    data = _data(examples, test_examples)
    model = _lenet(data)
    d2l.Trainer(max_epochs=1, progress=False).fit(model, data)
    path = Path(workdir) / f"saveload-{backend}.safetensors"
    d2l.save(model, path)  # warm-up
    save_ms = [_milliseconds(lambda: d2l.save(model, path)) for _ in range(repeats)]
    load_ms = [_timed_load(path)[1] for _ in range(repeats + 1)]  # the first is the process's first load
    loaded = d2l.LeNet()
    checkpoint = d2l.load(loaded, path)
    raw = path.read_bytes()
    return {"backend": backend, "bytes": len(raw), "header_bytes": 8 + int.from_bytes(raw[:8], "little"),
            "tensors": len(checkpoint.params) + len(checkpoint.optim_state),
            "optim_tensors": len(checkpoint.optim_state),
            "parameters": int(sum(a.size for a in checkpoint.params.values())),
            "epoch": checkpoint.epoch, "step": checkpoint.step,
            "save_ms": statistics.median(save_ms), "load_ms": statistics.median(load_ms[1:]),
            "first_load_ms": load_ms[0], "save_samples_ms": save_ms, "load_samples_ms": load_ms,
            "roundtrip_max_abs_diff": _max_abs(_logits(model, data), _logits(loaded, data))}


def worker_train(backend: str, epochs: int, train_examples: int, test_examples: int, checkpoint: str,
                 logits: str) -> dict[str, Any]:
    """Train the source model, save it to ``checkpoint`` and its test logits to ``logits``."""
    import d2lconv as d2l

    data = _data(train_examples, test_examples)
    model = _lenet(data)
    start = time.perf_counter()
    trainer = d2l.Trainer(max_epochs=epochs, progress=False).fit(model, data)
    seconds = time.perf_counter() - start
    d2l.save(model, checkpoint)
    values = _logits(model, data)
    np.save(logits, values)
    return {"backend": backend, "train_seconds": seconds, "accuracy": _accuracy(values, data),
            "val_acc": trainer.history.get("val_acc", [])}


def worker_evaluate(backend: str, checkpoint: str, test_examples: int, logits: str) -> dict[str, Any]:
    """Load ``checkpoint`` into a fresh LeNet and save its test logits to ``logits``."""
    data = _data(1, test_examples)
    model, load_ms = _timed_load(Path(checkpoint))
    values = _logits(model, data)
    np.save(logits, values)
    return {"backend": backend, "load_ms": load_ms, "accuracy": _accuracy(values, data)}


def _timed_trainer_class() -> type:
    """A ``Trainer`` that adds up the time of its checkpoint writes (bytes, atomic write, fsync)."""
    import d2lconv as d2l

    class TimedTrainer(d2l.Trainer):
        write_seconds = 0.0
        writes = 0

        def _checkpoint(self, best: bool = False) -> Any:
            start = time.perf_counter()
            path = super()._checkpoint(best)
            if path is not None:
                self.write_seconds += time.perf_counter() - start
                self.writes += 1
            return path

    return TimedTrainer


def _fit_once(trainer_class: type, data: Any, epochs: int, directory: Path | None) -> dict[str, Any]:
    """One timed ``fit`` of a new LeNet from ``d2l.seed(0)``, into ``directory`` (or none)."""
    model = _lenet(data)
    trainer = trainer_class(max_epochs=epochs, progress=False, checkpoint_dir=directory)
    start = time.perf_counter()
    trainer.fit(model, data)
    seconds = time.perf_counter() - start
    last = directory / "last.safetensors" if directory is not None else None
    return {"checkpointed": directory is not None, "seconds": seconds,
            "epoch_seconds": sum(trainer.history["epoch_seconds"]), "writes": trainer.writes,
            "write_seconds": trainer.write_seconds, "train_loss": trainer.history["train_loss"],
            "bytes": last.stat().st_size if last is not None else 0}


def worker_overhead(backend: str, epochs: int, examples: int, test_examples: int, rounds: int,
                    workdir: str) -> dict[str, Any]:
    """Fit with and without a checkpoint directory, ABBA-interleaved, after a short warm-up fit."""
    trainer_class = _timed_trainer_class()
    warmup = _data(min(examples, 10 * BATCH_SIZE), min(test_examples, 10 * BATCH_SIZE))
    _fit_once(trainer_class, warmup, 1, Path(workdir) / "overhead-warmup")
    data = _data(examples, test_examples)
    runs = []
    for r in range(rounds):
        for checkpointed in ((False, True) if r % 2 == 0 else (True, False)):
            run = _fit_once(trainer_class, data, epochs, Path(workdir) / f"overhead-{r}" if checkpointed else None)
            runs.append({"round": r, **run})
    losses = {tuple(run.pop("train_loss")) for run in runs}
    return {"backend": backend, "epochs": epochs, "examples": examples, "runs": runs,
            "same_training": len(losses) == 1}


WORKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "saveload": worker_saveload, "train": worker_train, "evaluate": worker_evaluate, "overhead": worker_overhead}


def run_worker(task: str, params: dict[str, Any]) -> int:
    """The ``--worker`` entry point: run one task on its backend, print its result as JSON."""
    import d2lconv as d2l

    d2l.set_backend(params["backend"])
    result = WORKERS[task](**params)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


# -- the parent: subprocesses, comparisons, tables ---------------------------------------------------


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def call_worker(task: str, params: dict[str, Any], env: dict[str, str]) -> dict[str, Any] | None:
    """Run ``task`` in a new process; its result, or ``None`` (with its stderr shown) if it failed."""
    _log(f"-- {task} on {params['backend']} ...")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", task, json.dumps(params)],
                         env=env, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if out.returncode or not lines:
        _log(f"   {task} on {params['backend']} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
        return None
    _log(f"   done in {time.perf_counter() - start:.1f} s")
    return {**json.loads(lines[-1].removeprefix(RESULT_PREFIX)), "process_seconds": time.perf_counter() - start}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; numbers right-aligned."""
    def numeric(column: int) -> bool:
        return any(isinstance(row[column], (int, float)) for row in rows)

    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---:" if numeric(i) else "---" for i in range(len(header))) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


class Num(float):
    """A float that prints with a fixed format (and still right-aligns as a number)."""

    def __new__(cls, value: float, fmt: str = ".2f") -> Num:
        number = super().__new__(cls, value)
        number.fmt = fmt
        return number

    def __str__(self) -> str:
        return format(float(self), self.fmt)


def section_saveload(settings: Settings, env: dict[str, str], workdir: Path) -> tuple[str, list[dict[str, Any]]]:
    """Checkpoint size, save and load time on each backend."""
    results = []
    for backend in settings.backends:
        result = call_worker("saveload", {"backend": backend, "examples": settings.saveload_examples,
                                          "test_examples": settings.test_examples, "repeats": settings.repeats,
                                          "workdir": str(workdir)}, env)
        results.append(result or {"backend": backend, "failed": True})
    rows = [[r["backend"], "failed", "", "", "", "", "", ""] if r.get("failed") else
            [r["backend"], r["bytes"], r["header_bytes"], r["tensors"], Num(r["save_ms"]), Num(r["load_ms"]),
             Num(r["first_load_ms"]), Num(r["roundtrip_max_abs_diff"], ".1e")] for r in results]
    title = (f"### LeNet checkpoint: size, save and load (median of {settings.repeats}; fitted by a Trainer for "
             f"1 epoch on {settings.saveload_examples} images, so the file holds its state)")
    table = markdown_table(["backend", "file (bytes)", "of it header (bytes)", "tensors", "save (ms)",
                            "load into unbuilt LeNet (ms)", "first load (ms)", "round-trip max abs logit diff"],
                           rows)
    done = [r for r in results if not r.get("failed")]
    note = ""
    if done:
        r = done[0]
        note = (f"\n\ntensors: {r['tensors'] - r['optim_tensors']} parameters ({r['parameters']} values, float32) "
                f"+ {r['optim_tensors']} optimizer-state tensors; epoch {r['epoch']}, step {r['step']}. "
                f"Load times include building the lazy layers (one forward pass on zeros of the recorded "
                f"{BATCH_SIZE}-image input).")
    return f"{title}\n\n{table}{note}", results


def section_cross(settings: Settings, env: dict[str, str], workdir: Path) -> tuple[str, dict[str, Any]]:
    """Train on the source backend, then load and evaluate the checkpoint on every backend."""
    checkpoint, source_logits = workdir / f"cross-{settings.source}.safetensors", workdir / "logits-source.npy"
    source = call_worker("train", {"backend": settings.source, "epochs": settings.epochs,
                                   "train_examples": settings.train_examples,
                                   "test_examples": settings.test_examples, "checkpoint": str(checkpoint),
                                   "logits": str(source_logits)}, env)
    if source is None:
        return f"### Cross-backend: training on {settings.source} failed", {"source": None}
    reference = np.load(source_logits)
    rows: list[list[Any]] = [[f"{settings.source} (source, in memory)", Num(source["accuracy"], ".4f"), 0,
                              Num(0.0, ".1e"), ""]]
    targets = []
    for backend in settings.backends:
        logits = workdir / f"logits-{backend}.npy"
        result = call_worker("evaluate", {"backend": backend, "checkpoint": str(checkpoint),
                                          "test_examples": settings.test_examples, "logits": str(logits)}, env)
        if result is None:
            targets.append({"backend": backend, "failed": True})
            rows.append([backend, "failed", "", "", ""])
            continue
        values = np.load(logits)
        result["differing_predictions"] = int(np.sum(values.argmax(1) != reference.argmax(1)))
        result["max_abs_logit_diff"] = _max_abs(values, reference)
        targets.append(result)
        rows.append([f"{backend} (loaded)", Num(result["accuracy"], ".4f"), result["differing_predictions"],
                     Num(result["max_abs_logit_diff"], ".1e"), Num(result["load_ms"], ".1f")])
    title = (f"### Cross-backend: LeNet trained on {settings.source} ({settings.epochs} epoch(s), lr {LR}, "
             f"{settings.train_examples} images, {source['train_seconds']:.1f} s), loaded on each backend, "
             f"{len(reference)} test images")
    table = markdown_table(["backend", "test accuracy", f"predictions differing from {settings.source}",
                            "max abs logit diff", "load, first in a new process (ms)"], rows)
    return f"{title}\n\n{table}", {"source": source, "targets": targets}


def section_overhead(settings: Settings, env: dict[str, str], workdir: Path) -> tuple[str, dict[str, Any]]:
    """Trainer.fit with and without checkpoint_dir, side by side in one process."""
    result = call_worker("overhead", {"backend": settings.overhead_backend, "epochs": settings.overhead_epochs,
                                      "examples": settings.overhead_examples,
                                      "test_examples": settings.test_examples,
                                      "rounds": settings.overhead_rounds, "workdir": str(workdir)}, env)
    if result is None:
        return f"### Checkpoint overhead: the run on {settings.overhead_backend} failed", {"failed": True}
    runs = result["runs"]
    rows = [[f"{run['round'] + 1}", "checkpoint_dir" if run["checkpointed"] else "none", Num(run["seconds"]),
             Num(run["epoch_seconds"]), run["writes"], Num(run["write_seconds"] * 1e3, ".1f")] for run in runs]
    plain = statistics.median(run["seconds"] for run in runs if not run["checkpointed"])
    saved = [run for run in runs if run["checkpointed"]]
    checkpointed = statistics.median(run["seconds"] for run in saved)
    writing = statistics.median(run["write_seconds"] for run in saved)
    writes = saved[0]["writes"]
    summary = {"plain_seconds": plain, "checkpointed_seconds": checkpointed, "difference_seconds": checkpointed - plain,
               "wall_ratio": checkpointed / plain, "write_seconds": writing, "writes": writes,
               "write_ratio": writing / plain, "file_bytes": saved[0]["bytes"]}
    result["summary"] = summary
    title = (f"### Checkpoint overhead: Trainer(max_epochs={settings.overhead_epochs}).fit on "
             f"{settings.overhead_backend}, {settings.overhead_examples} training images, with and without "
             f"checkpoint_dir (one process, ABBA order, {settings.overhead_rounds} round(s))")
    table = markdown_table(["round", "checkpoint_dir", "fit wall (s)", "of it epochs (s)", "writes",
                            "writing (ms)"], rows)
    lines = [f"- median fit: {plain:.2f} s without, {checkpointed:.2f} s with checkpoint_dir: difference "
             f"{checkpointed - plain:+.2f} s (ratio {checkpointed / plain:.4f})",
             f"- time in checkpoint writes: {writing * 1e3:.1f} ms for {writes} writes "
             f"({writing * 1e3 / max(writes, 1):.1f} ms each, {saved[0]['bytes']} bytes), "
             f"{100 * writing / plain:.3f}% of the plain fit",
             f"- the same losses at every step with and without checkpointing: {result['same_training']}"]
    return f"{title}\n\n{table}\n\n" + "\n".join(lines), result


# -- command line -------------------------------------------------------------------------------------


def _comma_list(kind: str, valid: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of names out of ``valid`` (``kind`` for the error)."""
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in valid]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {kind}(s) {unknown}; choose from {', '.join(valid)}")
        return names
    return parse


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--backends", type=_comma_list("backend", BACKENDS), default=list(BACKENDS),
        help="comma separated (default: all five)")
    add("--sections", type=_comma_list("section", SECTIONS), default=list(SECTIONS),
        help=f"comma separated, of {', '.join(SECTIONS)}")
    add("--repeats", type=_positive, help="saves and loads timed per backend (default 20; --quick 3)")
    add("--source", choices=BACKENDS, default="torch", help="backend that trains the cross-backend model")
    add("--epochs", type=_positive, help="epochs of the cross-backend training (default 1; --quick 2)")
    add("--train-examples", type=_positive, help="training images for the cross-backend model (default 60000)")
    add("--test-examples", type=_positive, help="test images evaluated and validated on (default 10000)")
    add("--saveload-examples", type=_positive,
        help="training images of the one-epoch fit before the save/load timings (default 2000)")
    add("--overhead-backend", choices=BACKENDS, default="torch")
    add("--overhead-epochs", type=_positive, help="max_epochs of the overhead fits (default 10; --quick 2)")
    add("--overhead-examples", type=_positive, help="training images of the overhead fits (default 60000)")
    add("--overhead-rounds", type=_positive, default=2,
        help="rounds of (without, with) fits, alternating the order (default 2: ABBA)")
    add("--threads", type=_positive, default=1, help="compute threads per worker process (default 1)")
    add("--workdir", type=Path, help="where checkpoints are written (default: a temporary directory, removed)")
    add("--json", type=Path, help="also write every result, with all samples, to this JSON file")
    add("--quick", action="store_true",
        help="tiny sizes for a smoke test: 2000 training and 1000 test images, 2 epochs, 3 repeats")
    add("--worker", nargs=2, metavar=("TASK", "JSON"), help=argparse.SUPPRESS)
    return parser


def resolve(args: argparse.Namespace) -> Settings:
    """The settings: what was given, else the --quick or the full defaults."""
    def pick(value: int | None, full: int, quick: int) -> int:
        return value if value is not None else (quick if args.quick else full)

    return Settings(
        backends=args.backends, sections=args.sections, repeats=pick(args.repeats, 20, 3), source=args.source,
        epochs=pick(args.epochs, 1, 2), train_examples=min(pick(args.train_examples, FULL_TRAIN, 2000), FULL_TRAIN),
        test_examples=min(pick(args.test_examples, FULL_TEST, 1000), FULL_TEST),
        saveload_examples=min(pick(args.saveload_examples, 2000, 2000), FULL_TRAIN),
        overhead_backend=args.overhead_backend, overhead_epochs=pick(args.overhead_epochs, 10, 2),
        overhead_examples=min(pick(args.overhead_examples, FULL_TRAIN, 2000), FULL_TRAIN),
        overhead_rounds=args.overhead_rounds, threads=args.threads, quick=args.quick)


def _has_failure(result: Any) -> bool:
    """Whether a section's result holds a worker that failed (marked ``failed`` or ``None``)."""
    if result is None:
        return True
    if isinstance(result, list):
        return any(_has_failure(item) for item in result)
    if isinstance(result, dict):
        return bool(result.get("failed")) or any(_has_failure(v) for k, v in result.items()
                                                 if k in ("source", "targets"))
    return False


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    from d2lconv.backend import framework_version

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "numpy": np.__version__, "frameworks": {name: framework_version(name) for name in BACKENDS},
            "load_average_start": os.getloadavg()}


def run(settings: Settings, workdir: Path, json_path: Path | None) -> int:
    """Every section asked for, its table printed as soon as it is done."""
    from d2lconv.backend import thread_limits

    env = {**os.environ, **thread_limits(settings.threads), "D2LCONV_BACKEND": ""}
    report: dict[str, Any] = {"settings": asdict(settings), "machine": machine()}
    sections = {"saveload": section_saveload, "cross": section_cross, "overhead": section_overhead}
    start, failed = time.perf_counter(), False
    tables = []
    for name in settings.sections:
        text, result = sections[name](settings, env, workdir)
        report[name] = result
        failed |= _has_failure(result)
        tables.append(text)
        print(text + "\n", flush=True)
        if json_path is not None:
            from d2lconv.atomic import write_json_atomic
            write_json_atomic(json_path, report)
    report["machine"]["load_average_end"] = os.getloadavg()
    report["seconds"] = time.perf_counter() - start
    versions = ", ".join(f"{k} {v}" for k, v in report["machine"]["frameworks"].items() if k != "numpy")
    print(f"{report['machine']['cpus']} CPUs, {settings.threads} thread(s) per worker; load average "
          f"{report['machine']['load_average_start'][0]:.2f} at the start, "
          f"{report['machine']['load_average_end'][0]:.2f} at the end; {report['seconds']:.0f} s in all; "
          f"numpy {np.__version__}, {versions}")
    if json_path is not None:
        from d2lconv.atomic import write_json_atomic
        write_json_atomic(json_path, report)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        return run_worker(args.worker[0], json.loads(args.worker[1]))
    settings = resolve(args)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return run(settings, args.workdir, args.json)
    with tempfile.TemporaryDirectory(prefix="checkpoint_bench-") as workdir:
        return run(settings, Path(workdir), args.json)


if __name__ == "__main__":
    sys.exit(main())
