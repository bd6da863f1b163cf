"""d2l.record and d2l.rounded: what a chapter shows its reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import d2lconv as d2l
from d2lconv.backend import is_log_noise
from d2lconv.runner.chapters import run_chapter

from .test_robustness import _chapter


def test_record_returns_nothing_and_writes_the_values(backend, tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    monkeypatch.setenv("D2LCONV_RESULTS_FILE", str(target))
    assert d2l.record("kernel", backend.tensor([[1.0, -0.5]])) is None
    assert json.loads(target.read_text())["kernel"] == {"shape": [1, 2], "values": [1.0, -0.5]}


def test_rounded_prints_float32_as_people_write_it(backend):
    x = backend.tensor([[0.8506, -0.0000001], [1.0696, 2.0]])
    assert backend.dtype_name(x) == "float32"
    assert np.float32(0.8506).tolist() != 0.8506  # the problem: float32's nearest double
    assert d2l.rounded(x) == [[0.8506, 0.0], [1.0696, 2.0]]
    assert str(d2l.rounded(x[0, 0], 2)) == "0.85"
    assert d2l.rounded([0.123456, 1], 3) == [0.123, 1.0]


def test_framework_log_lines_are_recognised_but_errors_are_not():
    noise = ["WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
             "I0000 00:00:1795421744.769523   22221 service.cc:146] XLA service 0x56 initialized for platform Host",
             "W0000 00:00:1795421744.815893   22221 device_compiler.h:188] Compiled cluster using XLA!\n",
             "2026-11-23 08:15:55.546927: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on."]
    errors = ["E0000 00:00:1795421744.769523   22221 service.cc:146] out of memory",
              "2026-11-23 08:15:55.546927: F external/local_xla/xla/parse_flags_from_env.cc:224] Unknown flags",
              "ValueError: corr2d: the kernel is larger than the image", "I0000 is not a log line"]
    assert all(is_log_noise(line) for line in noise)
    assert not any(is_log_noise(line) for line in errors)


NOISY = ("import sys\n"
         "sys.stderr.write('WARNING: All log messages before absl::InitializeLog() is called are written '\n"
         "                 'to STDERR\\n'\n"
         "                 'I0000 00:00:1795421744.769523   22221 service.cc:146] XLA service initialized\\n')\n"
         "sys.stderr.write('UserWarning: a real warning\\n')\nsys.stderr.flush()")


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_pages_leave_out_log_noise_but_keep_real_stderr(tmp_path):
    chapter = _chapter(tmp_path, "noisy", NOISY + "\nimport d2lconv as d2l\nd2l.record('x', [1.0])")

    def stderr_of(result):
        cells = json.loads(open(result.notebook).read())["cells"]
        return "".join("".join(o["text"]) for c in cells if c["cell_type"] == "code"
                       for o in c["outputs"] if o.get("name") == "stderr")

    quiet = run_chapter(chapter, "numpy", tmp_path / "quiet")
    assert quiet.status == "ok"
    assert stderr_of(quiet) == "UserWarning: a real warning\n"
    cells = json.loads(open(quiet.notebook).read())["cells"]
    assert not [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]
                if o["output_type"] == "execute_result"], "d2l.record(...) as a cell's last line shows nothing"
    loud = run_chapter(chapter, "numpy", tmp_path / "loud", verbose=True)
    assert "XLA service initialized" in stderr_of(loud) and "a real warning" in stderr_of(loud)


@pytest.mark.tooling  # the runner on numpy: the same in every environment
def test_the_terminal_shows_no_kernel_chatter_unless_verbose(tmp_path):
    chapter = _chapter(tmp_path, "plain", "x = 1")
    env = {**os.environ, "D2LCONV_BACKEND": ""}
    cmd = [sys.executable, "-m", "d2lconv.cli", "run", str(chapter), "--build-dir", str(tmp_path / "b")]
    quiet = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert f"results:  {tmp_path / 'b' / 'numpy' / 'plain.results.json'}" in quiet.stdout
    loud = subprocess.run([*cmd, "--verbose"], capture_output=True, text=True, env=env, timeout=300)
    assert loud.returncode == 0 and "[kernel plain/numpy]" in loud.stderr
