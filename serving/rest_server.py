"""The REST port: HTTP/1.1 with keep-alive, request size limit, CORS, the Prometheus page."""

from __future__ import annotations

import http.server
import re
import sys
import threading
import urllib.parse

from absl import logging

from serving import json_tensor
from serving.config import MonitoringOptions
from serving.metrics import ServingMetrics
from serving.rest_api import API_PATH, RestApi, RestResponse

_HTTP_REASONS = {499: "Client Closed Request"}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-response is routine; anything else is logged."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError, TimeoutError)):
            logging.vlog(1, "REST client %s went away: %s", client_address[0], error)
        else:
            logging.exception("REST request from %s failed", client_address[0])


def _handler_class(
    api: RestApi,
    metrics: ServingMetrics,
    monitoring: MonitoringOptions,
    max_request_bytes: int,
    enable_cors: bool,
) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tts-pipeline-serving"
        sys_version = ""

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base's name)
            logging.vlog(1, "REST %s " + format, self.client_address[0], *args)

        def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
            data = body.encode("utf-8")
            reason = _HTTP_REASONS.get(status)
            self.send_response(status, reason)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if enable_cors:
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Methods", "POST, GET")
                self.send_header("Access-Control-Allow-Headers", "Content-Type")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _too_large(self, size: int | None) -> None:
            self.close_connection = True  # the body stays unread
            what = f"{size} bytes" if size is not None else "more bytes"
            message = (
                f"Request body of {what} exceeds the limit of {max_request_bytes} bytes "
                "(--max_request_bytes)"
            )
            metrics.record_request("", "", "REST", "RESOURCE_EXHAUSTED", 0.0)
            self._send(413, json_tensor.make_error_json(message))

        def _read_body(self) -> bytes | None:
            """The request body, or None after answering 413 when it is over the limit."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks, total = [], 0
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    total += size
                    if total > max_request_bytes:
                        self._too_large(None)
                        return None
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                self._send(400, json_tensor.make_error_json("Malformed Content-Length header"))
                return None
            if length > max_request_bytes:
                self._too_large(length)
                return None
            return self.rfile.read(length) if length > 0 else b""

        def _handle(self) -> None:
            body = self._read_body()
            if body is None:
                return
            path = urllib.parse.urlsplit(self.path).path
            if monitoring.prometheus_enabled and path == monitoring.prometheus_path:
                self._send(200, metrics.render(), "text/plain")
            elif self.command == "OPTIONS" and API_PATH.fullmatch(path):
                origin = self.headers.get("Origin", "")
                if re.search(r"https?://", origin):
                    self._send(200, "")
                else:
                    self._send(
                        400,
                        json_tensor.make_error_json("Origin header is missing in CORS preflight"),
                    )
            elif API_PATH.fullmatch(path):
                response: RestResponse = api.process(self.command, path, body)
                self._send(response.http_status, response.body)
            else:
                self._send(404, "<HTML><BODY>404 Not Found</BODY></HTML>", "text/html")

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    return Handler


class RestServer:
    """Serves the REST API on (host, port); port 0 picks a free port (see `port`)."""

    def __init__(
        self,
        host: str,
        port: int,
        api: RestApi,
        metrics: ServingMetrics,
        monitoring: MonitoringOptions,
        max_request_bytes: int,
        enable_cors: bool = False,
    ):
        handler = _handler_class(api, metrics, monitoring, max_request_bytes, enable_cors)
        self._api = api
        self._httpd = _Server((host, port), handler)
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._api.close()
