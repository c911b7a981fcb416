"""JupyterLab as a reader meets the package: a headless server on a free localhost port opens every source
notebook and every executed copy through its contents API, and the kernel "Python 3.11 (repro-papers)" starts
through the API and runs each notebook's parameters cell. Skips cleanly without jupyterlab (a requirement)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote

import nbformat
import pytest

from lib.core import paths, runner

pytest.importorskip("jupyterlab")
pytest.importorskip("tornado")

START_TIMEOUT_S = 40
EXECUTE_TIMEOUT_S = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A headless JupyterLab server rooted at the checkout, on a random token."""

    def __init__(self, root, runtime_dir):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.open_browser=False",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI runners often run as root
            cmd.append("--allow-root")
        # the server's runtime files (cookie secret, server info) go to a temporary folder, not the user's home
        env = {**os.environ, "JUPYTER_NO_CONFIG": "1", "JUPYTER_RUNTIME_DIR": str(runtime_dir)}
        self.log = open(runtime_dir / "lab.log", "w+")  # closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, text=True)

    def get(self, path: str, method: str = "GET", body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=20) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"jupyter lab exited: {self.log.read()[-2000:]}")
            try:
                return self.get("/api/status")
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        raise TimeoutError(f"jupyter lab did not answer within {START_TIMEOUT_S} s")

    def stop(self):
        try:
            self.get("/api/shutdown", method="POST", body={})
            self.proc.wait(timeout=10)
        except Exception:  # the server may already be gone
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(paths.ROOT, tmp_path_factory.mktemp("jupyter_runtime"))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _executed_copies():
    return sorted(p for p in paths.RESULTS.glob("*/*.ipynb") if not p.name.startswith("."))


def _api_path(path) -> str:
    return "/api/contents/" + quote(path.relative_to(paths.ROOT).as_posix())


async def _execute(base: str, token: str, kernel_id: str, code: str) -> tuple[str, list]:
    """Run ``code`` on a kernel through the server's websocket; returns (reply status, iopub outputs)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = base.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": "execute_request",
        "username": "test",
        "session": uuid.uuid4().hex,
        "date": "",
        "version": "5.3",
    }
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
    ws.write_message(
        json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"})
    )
    status, outputs, idle = None, [], False
    while status is None or not idle:
        raw = await ws.read_message()
        if raw is None:
            raise ConnectionError("kernel websocket closed")
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "execute_reply":
            status = msg["content"]["status"]
        elif kind in ("stream", "execute_result", "display_data", "error"):
            outputs.append(msg["content"])
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
    ws.close()
    return status, outputs


def test_lab_opens_every_notebook_and_runs_the_parameters_cells(lab):
    start = time.monotonic()
    specs = lab.get("/api/kernelspecs")["kernelspecs"]
    assert runner.DEFAULT_KERNEL in specs, f"kernel {runner.DEFAULT_KERNEL!r} not registered: bash scripts/setup.sh"
    assert specs[runner.DEFAULT_KERNEL]["spec"]["display_name"] == "Python 3.11 (repro-papers)"

    sources = [paths.notebook_path(k) for k in sorted(paths.NOTEBOOK_IDS)]
    for path in sources + _executed_copies():
        model = lab.get(_api_path(path) + "?content=1&type=notebook")
        assert model["type"] == "notebook" and model["format"] == "json", path
        nbformat.validate(nbformat.from_dict(model["content"]))

    kernel = lab.get("/api/kernels", method="POST", body={"name": runner.DEFAULT_KERNEL})
    try:
        for path in sources:
            cells = nbformat.read(path, as_version=4).cells
            code = next(c.source for c in cells if "parameters" in c.metadata.get("tags", []))
            status, outputs = asyncio.run(
                asyncio.wait_for(_execute(lab.base, lab.token, kernel["id"], code), EXECUTE_TIMEOUT_S)
            )
            assert status == "ok", f"{path.name}: parameters cell failed: {outputs}"
        status, outputs = asyncio.run(
            asyncio.wait_for(_execute(lab.base, lab.token, kernel["id"], "import sys; print(sys.version_info[:2])"), 20)
        )
        assert status == "ok" and "(3, 11)" in outputs[0]["text"], outputs
    finally:
        lab.get(f"/api/kernels/{kernel['id']}", method="DELETE")
    assert time.monotonic() - start < 60
