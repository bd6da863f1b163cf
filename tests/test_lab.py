"""``d2lconv lab``: JupyterLab started headless on a chapter; the notebook fetched through the
server's REST API and a kernel asked which backend it runs on."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from d2lconv.cli import main
from d2lconv.testing import current

pytestmark = [pytest.mark.chapter, pytest.mark.tooling]
CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(port: int, token: str, path: str, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def test_lab_opens_the_chapter_as_a_notebook_on_the_chosen_backend(tmp_path):
    from jupyter_client import BlockingKernelClient

    # one JupyterLab start (15-20 s) is enough: the backend reaches the kernel through the
    # environment, the same way for every backend; take a non-default one when there is one
    backend_name = (current().others or ("numpy",))[-1]

    port, token, workdir, runtime = free_port(), secrets.token_hex(16), tmp_path / "lab", tmp_path / "runtime"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "D2LCONV_BACKEND": ""}
    proc = subprocess.Popen([sys.executable, "-m", "d2lconv.cli", "lab", "padding", "--backend", backend_name,
                             "--workdir", str(workdir), "--chapters-dir", str(CHAPTERS), "--",
                             "--no-browser", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
                             f"--IdentityProvider.token={token}",
                             *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)  # its own process group, as in a terminal
    try:
        deadline = time.time() + 120
        while True:
            try:
                notebook = api(port, token, "contents/padding-and-strides.ipynb")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"JupyterLab did not start: {proc.communicate(timeout=10)[0][-3000:]}")
                time.sleep(0.5)
        assert notebook["type"] == "notebook"
        sources = ["".join(c["source"]) for c in notebook["content"]["cells"] if c["cell_type"] == "code"]
        assert any("d2l.corr2d" in s for s in sources) and len(sources) > 10
        session = api(port, token, "sessions", "POST", {"path": "padding-and-strides.ipynb", "type": "notebook",
                                                         "kernel": {"name": "python3"}})
        kernel_id = session["kernel"]["id"]
        connection = runtime / f"kernel-{kernel_id}.json"
        deadline = time.time() + 60
        while not connection.exists() and time.time() < deadline:
            time.sleep(0.2)
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        # No heartbeat channel: a client without a KernelManager takes one ping left unanswered
        # for 1 s as a death, and wait_for_ready then raises "Kernel died before replying to
        # kernel_info" for a kernel that is still starting on a busy machine. Without it,
        # wait_for_ready asks for kernel_info until the kernel answers; the server watches the
        # kernel's process, and a real death shows in its state.
        client.start_channels(hb=False)
        try:
            try:
                client.wait_for_ready(timeout=180)
            except RuntimeError as exc:
                state = api(port, token, f"kernels/{kernel_id}").get("execution_state")
                pytest.fail(f"{exc} (the server reports the kernel as {state!r})")
            lines = []
            client.execute_interactive("import d2lconv; print(d2lconv.get_backend())", timeout=120,
                                       output_hook=lambda m: lines.append(m["content"].get("text", "")))
        finally:
            client.stop_channels()
        assert "".join(lines).strip() == backend_name
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole group: d2lconv and JupyterLab
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # never leave a server or kernel behind
            proc.communicate()
            raise
    assert sorted(p.name for p in workdir.iterdir()) == ["padding-and-strides.ipynb"]


def test_lab_never_overwrites_a_copy_and_names_missing_pieces(tmp_path, capsys, monkeypatch):
    from d2lconv.runner import lab

    workdir = tmp_path / "lab"
    workdir.mkdir()
    mine = workdir / "pooling.ipynb"
    mine.write_text("my edits")
    written, kept = lab.prepare([CHAPTERS / "pooling.md", CHAPTERS / "channels.md"], workdir)
    assert kept == [mine] and mine.read_text() == "my edits"
    assert [p.name for p in written] == ["channels.ipynb"]
    nb = json.loads(written[0].read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3" and "jupytext" not in nb["metadata"]

    assert main(["lab", "nope", "--chapters-dir", str(CHAPTERS), "--workdir", str(workdir)]) == 2
    assert "no chapter 'nope'" in capsys.readouterr().err
    monkeypatch.setattr(lab, "available_backends", lambda: ["numpy"])
    assert main(["lab", "pooling", "--backend", "torch", "--workdir", str(workdir)]) == 2
    assert "the 'torch' backend's framework is not installed" in capsys.readouterr().err
    monkeypatch.setattr(lab.importlib.util, "find_spec", lambda name: None)
    assert main(["lab", "pooling"]) == 2
    assert "d2lconv lab needs 'jupyterlab'" in capsys.readouterr().err
