"""Benchmarks for d2lconv: every figure is a ratio of two things measured side by side in one
process (interleaved, medians of repeated runs after warm-up, float32).

    python tools/benchmark.py                 # the full table (several minutes)
    python tools/benchmark.py --quick         # CI-sized smoke run
    python tools/benchmark.py --json out.json --backends numpy,torch

Sections:
- conv: the shared corr2d vs the framework's own convolution;
- roofline: corr2d over the fastest full pass over the same image (`X * 1.0` or `X + X`), the
  memory-bandwidth floor;
- grad: forward + backward of both;
- channels: corr2d_multi_in_out with padding and stride vs the framework's conv2d, forward and
  forward + backward;
- pool: pool2d vs the framework's max / average pooling, forward and forward + backward;
- loop: corr2d vs the textbook corr2d_loop;
- dispatch: d2lconv.<op>, and the op of a namespace pinned by `from d2lconv import torch as
  d2l`, vs the direct framework call;
- lenet: one training step of d2lconv's LeNet (`d2l.make_train_step`, compiled by the backend,
  the loss read on the host every step as the Trainer does) vs the framework's own idiomatic step
  from the same weights (tools/native_lenet.py; numpy's baseline is torch's); and, where the
  backend compiles (TensorFlow, JAX), d2lconv's compiled step vs the same step run eagerly (not
  in --quick); batch 128 (--quick: 32);
- startup: import d2lconv vs import numpy; a chapter run vs importing the framework.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

import d2lconv as d2l
from d2lconv.backend import available_backends, canonical_name, load, load_order, use_backend

SECTIONS = ("conv", "roofline", "grad", "channels", "pool", "loop", "dispatch", "lenet", "startup")

#: Backends whose ``compile`` is more than the identity: only there eager vs compiled is measured.
COMPILING_BACKENDS = ("tensorflow", "jax", "mxnet")


def time_interleaved(fns: list[Callable[[], Any]], repeat: int, number: int = 1,
                     warmup: int = 2) -> list[float]:
    """Median seconds per call of each function, measured interleaved so load hits all alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, sink in zip(fns, samples):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            sink.append((time.perf_counter() - start) / number)
    return [statistics.median(s) for s in samples]


def time_pair(first: Callable[[], Any], second: Callable[[], Any], repeat: int, number: int = 1,
              warmup: int = 2) -> tuple[float, float]:
    """Median seconds per call of two functions, measured interleaved."""
    a, b = time_interleaved([first, second], repeat, number, warmup)
    return a, b


def _inputs(size: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((size, size), dtype=np.float32), rng.random((k, k), dtype=np.float32)


def _cases(B, sizes, kernels):
    """(case label, X, K) for every image size and kernel size, as tensors of backend ``B``."""
    for size in sizes:
        for k in kernels:
            x, w = _inputs(size, k)
            yield f"{size}x{size}, {k}x{k}", B.from_numpy(x), B.from_numpy(w)


def bench_conv(backend: str, sizes, kernels, repeat: int) -> list[dict]:
    rows = []
    with use_backend(backend) as B:
        for case, X, K in _cases(B, sizes, kernels):
            ours = d2l.numpy(d2l.corr2d(X, K))
            assert np.allclose(ours, d2l.numpy(B.native_corr2d(X, K)), rtol=1e-4, atol=1e-3)
            shared, native = time_pair(lambda: B.block_until_ready(d2l.corr2d(X, K)),
                                       lambda: B.block_until_ready(B.native_corr2d(X, K)), repeat)
            rows.append({"section": "conv", "backend": backend, "case": case,
                         "shared_ms": shared * 1e3, "native_ms": native * 1e3, "ratio": shared / native})
    return rows


#: The cheapest full passes over an image: each reads it once and writes a new one. (A copy
#: is not among them: TensorFlow's immutable tensors may share the buffer instead of copying,
#: which measured 0.05 ms for 4 MB, a pass that never happened.)
FLOOR_PASSES: dict[str, Callable[[Any], Any]] = {
    "X * 1.0": lambda X: X * 1.0,
    "X + X": lambda X: X + X,
}


def bench_roofline(backend: str, sizes, kernels, repeat: int) -> list[dict]:
    """corr2d over the memory-bandwidth floor: the fastest single full pass over the same image.

    A ratio near 1 means corr2d costs about one read and one write of the image; shift-and-add
    run eagerly makes ~k^2 passes, a compiled (fused) one can approach one.
    """
    rows = []
    with use_backend(backend) as B:
        for case, X, K in _cases(B, sizes, kernels):
            fns = [lambda: B.block_until_ready(d2l.corr2d(X, K))]
            fns += [lambda f=f: B.block_until_ready(f(X)) for f in FLOOR_PASSES.values()]
            ours, *floors = time_interleaved(fns, repeat)
            floor, name = min(zip(floors, FLOOR_PASSES))
            rows.append({"section": "roofline", "backend": backend, "case": case,
                         "corr2d_ms": ours * 1e3, "floor_ms": floor * 1e3, "floor_pass": name,
                         "ratio": ours / floor})
    return rows


def bench_grad(backend: str, sizes, kernels, repeat: int) -> list[dict]:
    rows = []
    with use_backend(backend) as B:
        for case, X, K in _cases(B, sizes, kernels):
            def loss_of(fn):
                return B.value_and_grad(lambda a, b: d2l.reduce_sum(fn(a, b) ** 2), argnums=(0, 1))

            ours, theirs = loss_of(d2l.corr2d), loss_of(B.native_corr2d)
            _, (gx, gk) = ours(X, K)
            _, (nx, nk) = theirs(X, K)
            assert np.allclose(d2l.numpy(gk), d2l.numpy(nk), rtol=1e-3)

            def run(step):
                _, (a, b) = step(X, K)
                B.block_until_ready(a)
                B.block_until_ready(b)

            shared, native = time_pair(lambda: run(ours), lambda: run(theirs), repeat)
            rows.append({"section": "grad", "backend": backend, "case": case,
                         "shared_ms": shared * 1e3, "native_ms": native * 1e3, "ratio": shared / native})
    return rows


def _forward_and_backward(B, ours: Callable, native: Callable, args: tuple, argnums: tuple[int, ...],
                          repeat: int) -> dict[str, Any]:
    """Forward and forward + backward times of ``ours`` vs ``native`` on the same arguments (the
    outputs checked equal first). A framework with no gradient for its own op gets 'n/a'."""
    expected = d2l.numpy(native(*args))
    assert np.allclose(d2l.numpy(ours(*args)), expected, rtol=1e-4, atol=1e-3)
    shared, theirs = time_pair(lambda: B.block_until_ready(ours(*args)),
                               lambda: B.block_until_ready(native(*args)), repeat)
    row: dict[str, Any] = {"shared_ms": shared * 1e3, "native_ms": theirs * 1e3, "ratio": shared / theirs}

    def step_of(fn):
        step = B.value_and_grad(lambda *a: d2l.reduce_sum(fn(*a) ** 2), argnums=argnums)

        def run():
            _, grads = step(*args)
            for g in grads:
                B.block_until_ready(g)
        return run

    try:
        step_of(native)()
    except TypeError as exc:  # numpy: sliding_window_view has no gradient
        row.update(grad_shared_ms="n/a", grad_native_ms="n/a", grad_ratio=f"n/a ({exc})"[:40])
        return row
    shared, theirs = time_pair(step_of(ours), step_of(native), max(3, repeat // 2))
    row.update(grad_shared_ms=shared * 1e3, grad_native_ms=theirs * 1e3, grad_ratio=shared / theirs)
    return row


def bench_channels(backend: str, cases, repeat: int) -> list[dict]:
    """corr2d_multi_in_out vs the framework's conv2d: (batch, c_in, c_out, size, k, padding, stride)."""
    rows = []
    with use_backend(backend) as B:
        for n, c_in, c_out, size, k, padding, stride in cases:
            rng = np.random.default_rng(0)
            X = B.from_numpy(rng.random((n, c_in, size, size), dtype=np.float32))
            K = B.from_numpy(rng.random((c_out, c_in, k, k), dtype=np.float32) - 0.5)

            def ours(x, w, padding=padding, stride=stride):
                return d2l.corr2d_multi_in_out(x, w, padding, stride)

            def native(x, w, padding=padding, stride=stride):
                return B.native_conv2d(x, w, (padding, padding), (stride, stride))

            case = f"{n}x{c_in}->{c_out}, {size}x{size}, {k}x{k}, pad {padding}, stride {stride}"
            rows.append({"section": "channels", "backend": backend, "case": case,
                         **_forward_and_backward(B, ours, native, (X, K), (0, 1), repeat)})
    return rows


def bench_pool(backend: str, cases, repeat: int) -> list[dict]:
    """pool2d vs the framework's pooling: (batch, channels, size, mode, window, stride, padding)."""
    rows = []
    with use_backend(backend) as B:
        for n, c, size, mode, window, stride, padding in cases:
            rng = np.random.default_rng(0)
            X = B.from_numpy(rng.random((n, c, size, size), dtype=np.float32))

            def ours(x, mode=mode, window=window, stride=stride, padding=padding):
                return d2l.pool2d(x, window, mode, padding, stride)

            def native(x, mode=mode, window=window, stride=stride, padding=padding):
                return B.native_pool2d(x, (window, window), mode, (padding, padding), (stride, stride))

            case = f"{mode} {n}x{c}x{size}x{size}, {window}x{window}, stride {stride}, pad {padding}"
            rows.append({"section": "pool", "backend": backend, "case": case,
                         **_forward_and_backward(B, ours, native, (X,), (0,), repeat)})
    return rows


def bench_loop(backend: str, sizes, repeat: int) -> list[dict]:
    rows = []
    with use_backend(backend) as B:
        for size in sizes:
            x, w = _inputs(size, 3)
            X, K = B.from_numpy(x), B.from_numpy(w)
            loop, fast = time_pair(lambda: B.block_until_ready(d2l.corr2d_loop(X, K)),
                                   lambda: B.block_until_ready(d2l.corr2d(X, K)), repeat, warmup=1)
            rows.append({"section": "loop", "backend": backend, "case": f"{size}x{size}, 3x3",
                         "loop_ms": loop * 1e3, "shared_ms": fast * 1e3, "speedup": loop / fast})
    return rows


def bench_dispatch(backend: str, repeat: int, number: int) -> list[dict]:
    rows = []
    module = load(backend)
    x = module.from_numpy(np.ones((2, 3), np.float32))
    calls = {
        "zeros": ((2, 3),),
        "reduce_sum": (x,),
        "reshape": (x, (3, 2)),
        "transpose": (x,),
    }
    previous = d2l.get_backend()
    for op, args in calls.items():
        direct = module.NATIVE_OPS[op]
        # d2l.<op>(...) exactly as user code writes it (attribute lookup included), against the
        # direct framework call; once with the backend as process default (the usual case:
        # D2LCONV_BACKEND or set_backend), once inside a use_backend block.
        # Both sides are the same shape of call: one attribute lookup on a module-like object.
        # Third: the namespace pinned by `from d2lconv import <backend> as d2l`.
        scope = {"d2l": d2l, "framework": SimpleNamespace(**{op: direct}), "args": args,
                 "pinned": getattr(d2l, backend)}
        ours_fn = eval(f"lambda: d2l.{op}(*args)", scope)
        native_fn = eval(f"lambda: framework.{op}(*args)", scope)
        pinned_fn = eval(f"lambda: pinned.{op}(*args)", scope)
        d2l.set_backend(backend)
        try:
            ours, native = time_pair(ours_fn, native_fn, repeat, number)
            pinned, native3 = time_pair(pinned_fn, native_fn, repeat, number)
            with use_backend(backend):
                scoped, native2 = time_pair(ours_fn, native_fn, repeat, number)
        finally:
            d2l.set_backend(previous)
        # an alias IS the framework's function: its overhead is zero by construction, and what
        # the timing shows for it is the noise of this machine
        rows.append({"section": "dispatch", "backend": backend, "case": op,
                     "alias": getattr(module, op) is direct, "native_us": native * 1e6,
                     "d2lconv_us": ours * 1e6, "added_us": (ours - native) * 1e6,
                     "pinned_added_us": (pinned - native3) * 1e6,
                     "in_use_backend_added_us": (scoped - native2) * 1e6})
    return rows


def _native_lenet():
    """tools/native_lenet.py, imported by its path (it sits next to this file, not in a package)."""
    import importlib.util

    name = "native_lenet"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().with_name("native_lenet.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def bench_lenet(backend: str, batch_size: int, repeat: int, eager: bool = True, lr: float = 0.1) -> list[dict]:
    """d2lconv's LeNet training step vs the framework's own (tools/native_lenet.py), both from the
    same weights on the same batch, steady state (warmed up, so compiling is not timed), each step
    ending with its loss read on the host. The first losses are checked equal first. With ``eager``,
    also d2lconv's compiled step vs the same step with ``compile=False`` where compiling is more
    than the identity (TensorFlow, JAX)."""
    native_lenet = _native_lenet()
    X, y = native_lenet.batch(batch_size)
    framework = native_lenet.native_framework(backend)
    case = f"train step, batch {batch_size}"
    rows = []
    with use_backend(backend):
        model, optim, params = native_lenet.d2lconv_lenet(backend, lr)
        prepare, ours = native_lenet.d2lconv_step(model, optim)
        data = prepare(X, y)
        first = [ours(*data) for _ in range(2)]  # compiles (TensorFlow, JAX): the warm-up's first call
        if framework in available_backends():
            native_prepare, native = native_lenet.make_native_step(backend, params, lr)
            native_data = native_prepare(X, y)
            theirs = [native(*native_data) for _ in range(2)]
            assert np.allclose(first, theirs, rtol=1e-4), (backend, first, theirs)
            shared, baseline = time_pair(lambda: ours(*data), lambda: native(*native_data), repeat)
            rows.append({"section": "lenet", "backend": backend, "case": case, "native": framework,
                         "ours_ms": shared * 1e3, "native_ms": baseline * 1e3, "ratio": shared / baseline})
        if eager and backend in COMPILING_BACKENDS:
            eager_prepare, eager_step = native_lenet.d2lconv_step(model, optim, compile=False)
            eager_data = eager_prepare(X, y)
            compiled, eagerly = time_pair(lambda: ours(*data), lambda: eager_step(*eager_data), repeat)
            rows.append({"section": "lenet", "backend": backend, "case": f"compiled vs eager, batch {batch_size}",
                         "compiled_ms": compiled * 1e3, "eager_ms": eagerly * 1e3,
                         "compiled_ratio": compiled / eagerly})
    return rows


def _python_seconds(code: str, env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def bench_startup(backends: list[str], repeat: int, chapters: bool) -> list[dict]:
    import os

    env = {**os.environ, "D2LCONV_BACKEND": "numpy"}
    ours, base = [], []
    for _ in range(repeat):
        ours.append(_python_seconds("import d2lconv", env))
        base.append(_python_seconds("import numpy", env))
    rows = [{"section": "startup", "backend": "numpy", "case": "import d2lconv vs import numpy",
             "d2lconv_s": statistics.median(ours), "baseline_s": statistics.median(base),
             "added_s": statistics.median(ours) - statistics.median(base)}]
    if chapters:
        import tempfile

        from d2lconv.backend import FRAMEWORKS
        from d2lconv.runner.chapters import run_chapter
        for backend in backends:
            framework = FRAMEWORKS[backend].module
            imports = statistics.median(_python_seconds(f"import {framework}") for _ in range(3))
            with tempfile.TemporaryDirectory() as build:
                result = run_chapter("convolutions-for-images", backend, Path(build))
            rows.append({"section": "startup", "backend": backend, "case": "chapter run vs import framework",
                         "d2lconv_s": result.seconds, "baseline_s": imports,
                         "added_s": result.seconds - imports, "status": result.status})
    return rows


def _format_cell(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def format_rows(rows: list[dict]) -> str:
    lines = []
    for section in SECTIONS:
        chosen = [r for r in rows if r["section"] == section]
        if not chosen:
            continue
        # the union of the rows' keys in order of appearance (a section may mix kinds of row)
        keys = [k for k in dict.fromkeys(k for r in chosen for k in r) if k != "section"]
        lines.append(f"\n## {section}")
        lines.append(" | ".join(keys))
        lines.append(" | ".join("---" for _ in keys))
        for r in chosen:
            lines.append(" | ".join(_format_cell(r.get(k, "")) for k in keys))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats (a smoke test)")
    parser.add_argument("--backends", default=None, help="comma-separated (default: every installed one)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated of {SECTIONS}")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    backends = load_order([canonical_name(b) for b in args.backends.split(",")] if args.backends
                          else available_backends())
    sections = [s.strip() for s in args.sections.split(",")]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    if args.quick:
        sizes, kernels, loop_sizes, repeat, number = [128], [3], [16], 3, 200
        lenet_batch, lenet_repeat = 32, 3
        channel_cases = [(1, 3, 4, 32, 3, 1, 2)]
        pool_cases = [(1, 2, 32, mode, 3, 2, 1) for mode in ("max", "avg")]
    else:
        sizes, kernels, loop_sizes, repeat, number = [256, 1024, 2048], [3, 7], [64, 256], 15, 20000
        lenet_batch, lenet_repeat = 128, 15
        channel_cases = [(4, 3, 16, 224, k, 1, s) for k in (3, 5) for s in (1, 2)]
        pool_cases = [(4, 16, 112, mode, w, 2, p) for mode in ("max", "avg") for w, p in ((2, 0), (3, 1))]

    rows: list[dict] = []
    for backend in backends:
        load(backend)
        if "conv" in sections:
            rows += bench_conv(backend, sizes, kernels, repeat)
        if "roofline" in sections:
            rows += bench_roofline(backend, sizes[-2:], kernels, repeat)
        if "grad" in sections:
            rows += bench_grad(backend, sizes[:2] if not args.quick else sizes, kernels, max(3, repeat // 2))
        if "channels" in sections:
            rows += bench_channels(backend, channel_cases, max(3, repeat // 2))
        if "pool" in sections:
            rows += bench_pool(backend, pool_cases, max(3, repeat // 2))
        if "loop" in sections:
            rows += bench_loop(backend, loop_sizes, 1 if not args.quick else 2)
        if "dispatch" in sections:
            rows += bench_dispatch(backend, repeat, number)
        if "lenet" in sections:
            # quick: no eager row (warming up JAX's eager step alone takes seconds, op by op)
            rows += bench_lenet(backend, lenet_batch, lenet_repeat, eager=not args.quick)
        print(f"[{backend} done]", file=sys.stderr, flush=True)
    if "startup" in sections:
        rows += bench_startup(backends, 3 if args.quick else 7, chapters=not args.quick)

    machine = f"{platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}"
    versions = {b: d2l.backend.framework_version(b) for b in backends}
    print(f"# d2lconv benchmark ({'quick' if args.quick else 'full'}) on {machine}; {versions}")
    print(format_rows(rows))
    if args.json:
        from d2lconv.atomic import write_json_atomic
        write_json_atomic(args.json, {"machine": machine, "versions": versions, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
