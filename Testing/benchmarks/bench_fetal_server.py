"""Throughput and latency of the fetal inference server with the real pipeline, printed as JSON.

Two paths, both over real sockets on 127.0.0.1:

* HTTP: N sender threads POST stills (PNG with a pixel size) to ``/v1/analyse`` at once; latency is
  each request's round trip (upload, queue, inference, answer).
* DICOM: N sender threads C-STORE DICOM stills to the listener (one association each), which stores
  them de-identified and forwards them to the server; latency is from the start of the run until
  the still's result is written beside it, throughput is stills over the time until the last one.

The server has one inference worker (the models are not shared across threads), so throughput is
bounded by the pipeline's time per still; the senders measure how much the HTTP and DICOM layers
add to it and that nothing is lost under concurrency.

Run: ``.venv/bin/python Testing/benchmarks/bench_fetal_server.py [--stills 100] [--senders 4]
[--rows 540 --columns 800]``
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

TOKEN = "benchmark-token"


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 4)

    return {"p50_s": at(0.5), "p90_s": at(0.9), "p99_s": at(0.99), "max_s": round(ordered[-1], 4),
            "mean_s": round(statistics.fmean(ordered), 4)}


def png(pixels) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def run_senders(sender, count: int) -> None:
    """``sender(0)`` … ``sender(count - 1)`` at once, each in its own thread; returns when all are done."""
    threads = [threading.Thread(target=sender, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def bench_http(server, stills: list[bytes], senders: int) -> dict:
    from OrthoAILib.apps.fetal_client import FetalServerClient

    client = FetalServerClient(server.url, TOKEN)
    latencies, errors, lock = [], [], threading.Lock()

    def sender(index: int) -> None:
        for number in range(index, len(stills), senders):
            began = time.perf_counter()
            try:
                client.analyse(stills[number], f"bench-{number}.png", pixel_size_mm=0.15)
            except Exception as error:  # noqa: BLE001  (counted, reported)
                with lock:
                    errors.append(str(error))
                continue
            with lock:
                latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    run_senders(sender, senders)
    seconds = time.perf_counter() - started
    return {"stills": len(stills), "answered": len(latencies), "errors": len(errors), "seconds": round(seconds, 3),
            "stills_per_s": round(len(latencies) / seconds, 3), "latency": percentiles(latencies)}


def bench_dicom(server, paths: list[Path], senders: int, store: Path) -> dict:
    from OrthoAILib.apps.dicom_listener import make_listener
    from OrthoAILib.apps.fetal_client import send_files

    done_at: dict[str, float] = {}
    listener = make_listener(0, "ORTHOAI", ["BENCH"], store, server.url, TOKEN, log=lambda line: None,
                             out=lambda line: done_at.setdefault(line, time.perf_counter()))
    statuses, lock = [], threading.Lock()
    try:
        started = time.perf_counter()

        def sender(index: int) -> None:
            result = send_files(paths[index::senders], "127.0.0.1", listener.port, "ORTHOAI", calling_aet="BENCH")
            with lock:
                statuses.extend(status for _, status in result)

        run_senders(sender, senders)
        stored_s = time.perf_counter() - started
        listener.wait_idle(3600)
        seconds = time.perf_counter() - started
    finally:
        listener.shutdown()
    results = list(store.glob("*.fetal.json"))
    analysed = sum("id" in json.loads(p.read_text()) for p in results)
    return {"stills": len(paths), "stored_ok": statuses.count(0), "analysed": analysed,
            "all_stored_s": round(stored_s, 3), "stores_per_s": round(len(paths) / stored_s, 3),
            "seconds": round(seconds, 3), "stills_per_s": round(analysed / seconds, 3),
            "result_latency_from_start": percentiles([t - started for t in done_at.values()]) if done_at else None}


def pipeline_alone(pipeline, drawn) -> list[float]:
    """Seconds per still of the pipeline itself, run (like the server's worker) outside the main thread:
    with torch's intra-op threads on a busy machine the main thread can be many times slower."""
    from OrthoAILib.geometry import radiograph_geometry
    from OrthoAILib.image import Image, ImageOrigin

    seconds: list[float] = []

    def run() -> None:
        for pixels, _, size in drawn:
            image = Image(pixels[None].astype("float32"), radiograph_geometry(pixels.shape, (size, size)),
                          ImageOrigin("bench", "US", "synthetic", True))
            began = time.perf_counter()
            pipeline.run(image)
            seconds.append(time.perf_counter() - began)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return seconds


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stills", type=int, default=100)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--rows", type=int, default=540)
    parser.add_argument("--columns", type=int, default=800)
    args = parser.parse_args(argv)

    import torch

    from OrthoAILib.apps.fetal_server import make_server
    from OrthoAILib.phantoms.fetal_us import make_fetal_still, write_us_dicom

    shape = (args.rows, args.columns)
    drawn = [make_fetal_still(1_000_000 + i, head=i % 5 != 0, shape=shape) for i in range(args.stills)]
    load_started = time.perf_counter()
    server = make_server("127.0.0.1", 0, TOKEN, log=lambda line: None)
    load_s = time.perf_counter() - load_started
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        single = pipeline_alone(server.pipeline(), drawn[:10])
        http = bench_http(server, [png(pixels) for pixels, _, _ in drawn], args.senders)
        with tempfile.TemporaryDirectory() as folder:
            paths = [write_us_dicom(Path(folder) / f"bench-{i}.dcm", pixels, size)
                     for i, (pixels, _, size) in enumerate(drawn)]
            dicom = bench_dicom(server, paths, args.senders, Path(folder) / "store")
        health = server.health()
    finally:
        server.shutdown()
    result = {"benchmark": "fetal_server", "still_shape": list(shape), "senders": args.senders,
              "torch_threads": torch.get_num_threads(), "model_load_and_warm_up_s": round(load_s, 3),
              "pipeline_alone": percentiles(single), "http": http, "dicom_listener": dicom,
              "server_counts": {k: health[k] for k in ("processed", "failed", "queued")}}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
