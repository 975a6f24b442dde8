"""The REST port on tornado's HTTP/1.1 server: limits, timeouts, CORS, the Prometheus page.

tornado parses the protocol (strict chunk sizes, header size limit, HTTP/1.x only) on one
event-loop thread, so an idle or half-sent connection holds a socket, not a thread. The
server adds: a body limit over Content-Length or the sum of chunks (413), a cap on open
connections (503), a header/body/idle timeout, and predictions on RestApi's bounded pool,
abandoned when the client disconnects or the call times out (504).
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import threading
import time
import urllib.parse

from absl import logging
from tornado import httputil, iostream, netutil
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

from serving import json_tensor
from serving.calls import Call
from serving.config import MonitoringOptions
from serving.metrics import ServingMetrics
from serving.rest_api import API_PATH, RestApi, RestResponse

_HTTP_REASONS = {499: "Client Closed Request"}
DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_IDLE_TIMEOUT_S = 30.0
MAX_HEADER_BYTES = 64 * 1024
_UNLIMITED_BODY = 1 << 62  # tornado's own body limit off: the handler answers 413 itself


class _Request(httputil.HTTPMessageDelegate):
    """One HTTP request on a connection: headers, body (bounded), then the answer."""

    def __init__(self, server: RestServer, connection: httputil.HTTPConnection):
        self._server = server
        self._connection = connection
        self._chunks: list[bytes] = []
        self._size = 0
        self._refused = False
        self._closed = False
        self._call: Call | None = None
        self._gone: asyncio.Future | None = None
        self._started = time.perf_counter()
        self._method = ""
        self._path = ""
        self._headers = httputil.HTTPHeaders()

    # --- tornado's HTTPMessageDelegate ---
    def headers_received(self, start_line, headers) -> None:
        self._started = time.perf_counter()
        self._method = start_line.method
        self._path = start_line.path
        self._headers = headers
        length = headers.get("Content-Length")
        if length is not None and length.strip().isdigit():
            if int(length) > self._server.max_request_bytes:
                self._too_large(int(length))

    def data_received(self, chunk: bytes) -> None:
        if self._refused:
            return
        self._size += len(chunk)
        if self._size > self._server.max_request_bytes:
            self._too_large(None)  # a chunked body over the limit: refused mid-way
            return
        self._chunks.append(chunk)

    def finish(self) -> None:
        if self._refused:
            return
        self._connection.set_close_callback(self._on_close)
        asyncio.ensure_future(self._answer(b"".join(self._chunks)))

    def on_connection_close(self) -> None:
        self._on_close()

    # --- answers ---
    def _on_close(self) -> None:
        """The client went away: its work is abandoned (queued work never runs)."""
        self._closed = True
        if self._call is not None:
            self._call.cancel()
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)

    def _too_large(self, size: int | None) -> None:
        self._refused = True
        limit = self._server.max_request_bytes
        what = f"{size} bytes" if size is not None else f"more than {limit} bytes"
        message = f"Request body of {what} exceeds the limit of {limit} bytes (--max_request_bytes)"
        self._server.metrics.record_request("", "", "REST", "RESOURCE_EXHAUSTED", 0.0)
        self._send(413, json_tensor.make_error_json(message), close=True)

    async def _answer(self, body: bytes) -> None:
        server = self._server
        path = urllib.parse.urlsplit(self._path).path
        if server.monitoring.prometheus_enabled and path == server.monitoring.prometheus_path:
            self._send(200, server.metrics.render(), "text/plain")
        elif self._method == "OPTIONS" and API_PATH.fullmatch(path):
            if re.search(r"https?://", self._headers.get("Origin", "")):
                self._send(200, "")
            else:
                message = "Origin header is missing in CORS preflight"
                self._send(400, json_tensor.make_error_json(message))
        elif API_PATH.fullmatch(path):
            response = await self._api_call(path, body)
            server.api.record(response, self._started)
            self._send(response.http_status, response.body)
        else:
            self._send(404, "<HTML><BODY>404 Not Found</BODY></HTML>", "text/html")

    async def _api_call(self, path: str, body: bytes) -> RestResponse:
        """Runs the call on the API pool until it answers, times out or the client leaves."""
        api = self._server.api
        self._call = call = Call.with_timeout(api.timeout_s)
        self._gone = asyncio.get_running_loop().create_future()
        if self._closed:
            self._on_close()
        future = asyncio.wrap_future(api.submit(self._method, path, body, call))
        done, _ = await asyncio.wait(
            {future, self._gone}, timeout=api.timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if future in done:
            return future.result()
        call.cancel()  # queued work is dropped; a graph already running finishes
        future.cancel()
        if self._gone in done:
            return api.cancelled_response(self._method, path)
        return api.timeout_response(self._method, path)

    def _send(
        self, status: int, body: str, content_type: str = "application/json", close: bool = False
    ) -> None:
        if self._closed:
            return
        data = body.encode("utf-8")
        headers = httputil.HTTPHeaders(
            {
                "Content-Type": content_type,
                "Content-Length": str(len(data)),
                "Server": "tts-pipeline-serving",
                "Date": email.utils.formatdate(usegmt=True),
            }
        )
        if self._server.enable_cors:
            headers["Access-Control-Allow-Origin"] = "*"
            headers["Access-Control-Allow-Methods"] = "POST, GET"
            headers["Access-Control-Allow-Headers"] = "Content-Type"
        if close:
            headers["Connection"] = "close"
        reason = _HTTP_REASONS.get(status) or httputil.responses.get(status, "Unknown")
        start = httputil.ResponseStartLine("HTTP/1.1", status, reason)
        try:
            self._connection.write_headers(start, headers, b"" if self._method == "HEAD" else data)
            self._connection.finish()
        except iostream.StreamClosedError:
            self._closed = True


class _Requests(httputil.HTTPServerConnectionDelegate):
    def __init__(self, server: RestServer):
        self._server = server

    def start_request(self, server_conn, request_conn) -> httputil.HTTPMessageDelegate:
        return _Request(self._server, request_conn)


class _HTTPServer(HTTPServer):
    """tornado's HTTPServer with a cap on open connections (503 beyond it, then closed)."""

    def initialize(self, *args, max_connections: int = DEFAULT_MAX_CONNECTIONS, **kwargs):
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections

    def handle_stream(self, stream: iostream.IOStream, address) -> None:
        if len(self._connections) >= self.max_connections:
            body = json_tensor.make_error_json(
                f"Too many open connections (limit {self.max_connections}); retry later"
            ).encode()
            head = (
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            logging.log_every_n(logging.WARNING, "REST connection cap reached", 100)
            stream.write(head + body).add_done_callback(lambda _: stream.close())
            return
        super().handle_stream(stream, address)


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
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    ):
        self.api = api
        self.metrics = metrics
        self.monitoring = monitoring
        self.max_request_bytes = max_request_bytes
        self.enable_cors = enable_cors
        self._max_connections = max(1, max_connections)
        self._idle_timeout_s = idle_timeout_s
        self._sockets = netutil.bind_sockets(port, address=host, backlog=128)
        self.port: int = self._sockets[0].getsockname()[1]
        self._loop: IOLoop | None = None
        self._http: _HTTPServer | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rest-http", daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        self._loop = IOLoop.current()
        self._http = _HTTPServer(
            _Requests(self),
            max_connections=self._max_connections,
            max_header_size=MAX_HEADER_BYTES,
            max_body_size=_UNLIMITED_BODY,
            idle_connection_timeout=self._idle_timeout_s,  # also bounds reading the headers
            body_timeout=self._idle_timeout_s,
            xheaders=False,
        )
        self._http.add_sockets(self._sockets)
        self._ready.set()
        self._loop.start()
        self._loop.close(all_fds=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        if self._loop is not None and self._http is not None:
            http, loop = self._http, self._loop

            async def shut() -> None:
                http.stop()
                await http.close_all_connections()
                loop.stop()

            loop.add_callback(shut)
            self._thread.join(timeout=30)
        else:
            for sock in self._sockets:
                sock.close()
        self.api.close()
