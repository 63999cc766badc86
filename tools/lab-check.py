"""`make lab-check`: JupyterLab, started as `make lab` starts it, runs a report notebook to the end.

Run with .venv-lab's Python. It starts `make lab` (the same command a person runs, on a free
loopback port with a token of its own and no browser), checks in the lab's own settings that the
news pop-up is off, opens the notebook through the server's contents and sessions API and runs
its code cells one by one on the server's kernel over the kernel's websocket, as "Run All" does,
with quick=True and results_path under build/lab-check/ injected after the parameters cell (as
papermill injects them) so the report's own build is left alone. It fails with one line when the
server does not come up, a cell raises, or the notebook's results do not appear in the repo root
(where the kernels must start, as under papermill).
"""
import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = "build/lab-check"
NEWS_PLUGIN = "@jupyterlab/apputils-extension:notification"


class CheckError(RuntimeError):
    """The check failed; the message is one line."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(port, token, log):
    """`make lab` with arguments for an unattended run, in a process group of its own."""
    args = (f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} "
            f"--ServerApp.port_retries=0 --IdentityProvider.token={token} "
            "--ServerApp.open_browser=False")
    env = dict(os.environ, SCRATCHNET_FIGURES=str(REPO / OUT / "figures"))
    return subprocess.Popen(["make", "--no-print-directory", "-C", str(REPO), "lab",
                             f"LAB_ARGS={args}"], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def stop(process):
    """End the server we started: its process group (make, jupyter and its kernels)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Lab:
    """The REST side of a running server."""

    def __init__(self, port, token):
        self.base, self.token = f"http://127.0.0.1:{port}", token

    def call(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}{path}", data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def wait_until_up(self, process, seconds, log_path):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = " | ".join(Path(log_path).read_text(errors="replace").splitlines()[-3:])
                raise CheckError(f"make lab exited with {process.returncode} before the server "
                                 f"answered: {tail}")
            try:
                return self.call("GET", "/api/status", timeout=5)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        raise CheckError(f"the server did not answer on {self.base} within {seconds} s "
                         f"(log: {log_path})")


def message(session, code):
    return {"header": {"msg_id": uuid.uuid4().hex, "username": "lab-check", "session": session,
                       "msg_type": "execute_request", "version": "5.3",
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}


async def run_cells(url, cells, timeout):
    """Execute ``cells`` ((number, source) pairs) in order on the kernel at the websocket
    ``url``; raise CheckError at the first error."""
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(url)
    session = uuid.uuid4().hex
    try:
        for number, source in cells:
            request = message(session, source)
            await connection.write_message(json.dumps(request))
            reply, idle, error = None, False, None
            deadline = time.monotonic() + timeout
            while reply is None or not idle:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CheckError(f"cell {number} did not finish within {timeout} s")
                raw = await asyncio.wait_for(connection.read_message(), left)
                if raw is None:
                    raise CheckError(f"the kernel's websocket closed during cell {number}")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
                    continue
                kind = msg["header"]["msg_type"]
                if kind == "error":
                    error = msg["content"]
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
                elif kind == "execute_reply":
                    reply = msg["content"]
            if error or reply.get("status") != "ok":
                what = error or reply
                raise CheckError(f"cell {number} failed: {what.get('ename')}: "
                                 f"{' '.join(str(what.get('evalue')).split())[:200]}")
    finally:
        connection.close()


def check(notebook, port, startup, timeout, log_path):
    token = secrets.token_hex(16)
    results = f"{OUT}/{Path(notebook).stem}.json"
    (REPO / results).unlink(missing_ok=True)
    (REPO / OUT).mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(log_path, "w") as log:
        process = start_lab(port, token, log)
    try:
        lab = Lab(port, token)
        lab.wait_until_up(process, startup, log_path)
        # The lab's overrides.json shows as the schema's defaults; a user's own settings win.
        reply = lab.call("GET", f"/lab/api/settings/{NEWS_PLUGIN}")
        version = reply.get("version", "?")
        news = {key: reply["settings"].get(key, spec.get("default"))
                for key, spec in reply["schema"]["properties"].items()}
        if news.get("fetchNews") != "false" or news.get("checkForUpdates") is not False:
            raise CheckError(f"the news pop-up is not off in the lab's settings ({NEWS_PLUGIN}: "
                             f"fetchNews={news.get('fetchNews')!r}, checkForUpdates="
                             f"{news.get('checkForUpdates')!r}); make lab installs "
                             "tools/lab-overrides.json")
        model = lab.call("GET", f"/api/contents/{notebook}?content=1")
        cells, number = [], 0
        for number, cell in enumerate(model["content"]["cells"], 1):
            if cell["cell_type"] != "code":
                continue
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cells.append((number, source))
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                cells.append((f"{number} (injected parameters)",
                              f"# Parameters\nquick = True\nresults_path = {results!r}\n"))
        session = lab.call("POST", "/api/sessions", {"path": notebook, "name": notebook,
                                                     "type": "notebook",
                                                     "kernel": {"name": "python3"}})
        kernel = session["kernel"]["id"]
        url = (f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?token={token}"
               f"&session_id={uuid.uuid4().hex}")
        asyncio.run(run_cells(url, cells, timeout))
        lab.call("DELETE", f"/api/sessions/{session['id']}")
        if not (REPO / results).is_file():
            raise CheckError(f"{notebook} ran but {results} is not in the repo root: the kernel "
                             "did not start there (tools/lab-startup.py)")
    finally:
        stop(process)
    print(f"lab-check: notebooks/{notebook} ran to the end on the kernel of make lab's server "
          f"(JupyterLab {version}, {len(cells)} cells, {time.monotonic() - start:.0f} s), no "
          f"error; its results are in {results}; the news pop-up is off (fetchNews=false)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default="00_data.ipynb",
                        help="a notebook in notebooks/ (default: %(default)s)")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--startup", type=float, default=120, help="seconds to wait for the server")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a cell may run")
    args = parser.parse_args(argv)
    log_path = REPO / OUT / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        check(args.notebook, args.port or free_port(), args.startup, args.timeout, log_path)
    except (CheckError, urllib.error.URLError, OSError, KeyError, ValueError) as error:
        print(f"lab-check: error: {' '.join(str(error).split())} (server log: "
              f"{log_path.relative_to(REPO)})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
