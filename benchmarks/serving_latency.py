"""Serving latency and throughput: p50/p99 and requests/s at 1, 4, 8 clients, batching off/on.

    .venv/bin/python benchmarks/serving_latency.py [--model_base_path PUSH/voice]
        [--requests 40] [--concurrency 1,4,8] [--batching_parameters_file FILE] [--json out]

Starts `python -m serving.cli serve` in a subprocess (its own interpreter, as in production),
once without and once with --enable_batching (default parameters: serving/deploy's file),
and drives it with gRPC clients sending one fixed sentence per request (TF Serving's
PredictionService, audio outputs only). Without --model_base_path it exports an untrained
`small` attention voice (max 400 frames, 4 Griffin-Lim iterations): the figures then measure
the serving path and that small graph, not a production-size voice.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from serving import client  # noqa: E402

SENTENCE = "The quick brown fox jumps over the lazy dog."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(base_path: str, batching_file: str | None) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "serving.cli",
        "serve",
        f"--port={port}",
        "--model_name=voice",
        f"--model_base_path={base_path}",
    ]
    if batching_file:
        command += ["--enable_batching", f"--batching_parameters_file={batching_file}"]
    log = open(os.path.join(tempfile.gettempdir(), f"serving_bench_{port}.log"), "w")
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=client.CHANNEL_OPTIONS)
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited; see {log.name}")
        try:
            client.synthesize("", "voice", ["ready?"], channel=channel, timeout_s=30)
            break
        except client.SynthesisError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not come up; see {log.name}") from None
            time.sleep(0.5)
    channel.close()
    return process, port


def _drive(port: int, clients: int, requests: int) -> dict:
    """`clients` threads, each with its own channel, `requests` sequential calls each."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def run() -> None:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=client.CHANNEL_OPTIONS)
        client.synthesize("", "voice", [SENTENCE], channel=channel)  # connect, warm
        barrier.wait()
        for _ in range(requests):
            started = time.perf_counter()
            try:
                client.synthesize("", "voice", [SENTENCE], channel=channel, timeout_s=120)
            except client.SynthesisError as error:
                with lock:
                    errors.append(str(error))
                continue
            with lock:
                latencies.append(time.perf_counter() - started)
        channel.close()

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "requests_per_s": round(len(latencies) / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_base_path", default=None, help="a pushed voice: <base>/<ver>/")
    parser.add_argument("--requests", type=int, default=40, help="per client")
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument(
        "--batching_parameters_file",
        default=os.path.join(ROOT, "serving", "deploy", "batching_parameters.txt"),
    )
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()

    base_path = args.model_base_path
    if base_path is None:
        from serving.testing import export_voice

        base_path = os.path.join(tempfile.mkdtemp(prefix="serving_bench_"), "voice")
        export_voice(os.path.join(base_path, "1"), seed=0)
    levels = [int(c) for c in args.concurrency.split(",")]
    print(f"{os.cpu_count()} CPUs; sentence: {SENTENCE!r}; {args.requests} requests per client")
    print(f"{'batching':<9} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'errors':>6}")
    results = []
    for batching in (None, args.batching_parameters_file):
        process, port = _start_server(base_path, batching)
        try:
            for clients in levels:
                row = {"batching": bool(batching), **_drive(port, clients, args.requests)}
                results.append(row)
                print(
                    f"{'on' if batching else 'off':<9} {clients:>7} {row['p50_ms']:>8} "
                    f"{row['p99_ms']:>8} {row['requests_per_s']:>7} {row['errors']:>6}",
                    flush=True,
                )
        finally:
            process.terminate()
            process.wait(timeout=60)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
