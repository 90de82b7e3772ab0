"""The connector's HTTP endpoint (default 127.0.0.1:9401): /metrics for Prometheus, /healthz.

Started by the CLI handler in a daemon thread; /healthz answers 200 while the task is snapshotting
or streaming and made progress recently (server heartbeats count), 503 otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.metrics import REGISTRY

__all__ = ["serve"]


def serve(host: str, port: int, health: Callable[[], tuple[bool, str]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, status, ctype = generate_latest(REGISTRY), 200, CONTENT_TYPE_LATEST
            elif path == "/healthz":
                ok, detail = health()
                body, status, ctype = (detail + "\n").encode(), 200 if ok else 503, "text/plain"
            else:
                body, status, ctype = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet access log
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="connector-http", daemon=True).start()
    return server
