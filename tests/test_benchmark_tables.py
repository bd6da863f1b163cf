"""tools/benchmark_tables.py: the README's performance tables come from the benchmark's JSON."""

import importlib.util
import json
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "benchmark_tables.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("benchmark_tables", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tables_bold_every_miss_and_keep_the_backend_order(tmp_path, capsys):
    rows = [
        {"section": "pool", "backend": "torch", "case": "max 2x2", "ratio": 0.4, "grad_ratio": 1.51},
        {"section": "pool", "backend": "numpy", "case": "max 2x2", "ratio": 1.5, "grad_ratio": "n/a (no gradient)"},
        {"section": "roofline", "backend": "jax", "case": "1024x1024, 3x3", "ratio": 3.2},
    ]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"machine": "m", "versions": {}, "rows": rows}))
    assert load_tool().main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "| case | numpy | torch |\n|---|---|---|\n| max 2x2 | 1.50 | 0.40 |" in out
    assert "| max 2x2 | n/a | **1.51** |" in out  # forward + backward table: the bar is 1.5
    assert "| 1024x1024, 3x3 | **3.20** |" in out  # roofline: the bar is 3
    assert "convolution, forward" not in out  # no conv rows, no conv table


def test_lenet_tables_split_the_native_and_the_compiled_rows(tmp_path, capsys):
    rows = [
        {"section": "lenet", "backend": "numpy", "case": "train step, batch 128", "native": "torch",
         "ours_ms": 30.0, "native_ms": 20.0, "ratio": 1.5},
        {"section": "lenet", "backend": "jax", "case": "train step, batch 128", "native": "jax",
         "ours_ms": 40.0, "native_ms": 20.0, "ratio": 2.0},
        {"section": "lenet", "backend": "jax", "case": "compiled vs eager, batch 128",
         "compiled_ms": 40.0, "eager_ms": 80.0, "compiled_ratio": 0.5},
    ]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"machine": "m", "versions": {}, "rows": rows}))
    assert load_tool().main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "| case | numpy | jax |\n|---|---|---|\n| train step, batch 128 | 1.50 | **2.00** |" in out
    assert "| case | jax |\n|---|---|\n| compiled vs eager, batch 128 | 0.50 |" in out
