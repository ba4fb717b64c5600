"""A real executable standing in for a llama-server build that crashes, as ggml's AMX
kernels did: it takes llama-server's arguments and kills itself with SIGSEGV.

FAKE_LLAMA_MODE says when:
- ``start``: at every start, after printing a few lines of a model load to stderr;
- ``load``: at start, except for the native check (``--alias native-check``), which it
  passes, so a model load is what dies;
- ``serve``: it starts and answers the check, then dies when a chat request arrives.

When it serves, it speaks just enough of llama-server's API on the Unix socket given as
``--host``: /health, and streamed /v1/completions.
"""

from __future__ import annotations

import json
import os
import signal
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler


def crash() -> None:
    print("load_tensors: AMX model buffer size = 1.00 MiB", file=sys.stderr, flush=True)
    print("fake llama-server: about to crash", file=sys.stderr, flush=True)
    signal.pthread_kill(threading.get_ident(), signal.SIGSEGV)  # delivered to this thread
    threading.Event().wait()  # nothing more is answered while the signal lands


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._reply(200, b'{"status": "ok"}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        if self.path == "/v1/chat/completions":
            crash()
        chunk = {"choices": [{"index": 0, "text": " Paris", "finish_reason": "length"}]}
        usage = {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}
        body = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in (chunk, usage))
        self._reply(200, body + b"data: [DONE]\n\n", "text/event-stream")

    def _reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    argv = sys.argv[1:]
    option = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    mode = os.environ.get("FAKE_LLAMA_MODE", "start")
    if mode == "start" or (mode == "load" and option.get("--alias") != "native-check"):
        crash()
    server = socketserver.ThreadingUnixStreamServer(option["--host"], Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
