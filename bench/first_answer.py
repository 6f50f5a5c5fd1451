"""Time from `healthqa serve` to the first answer, through the server's own API (gradio_client).

    .venv/bin/python bench/first_answer.py [--index index]

The server starts as `python -m healthqa serve --index DIR --port P`; "ready" is when its page answers over
HTTP; the first question is then asked through gradio_client's `/ask` endpoint, and a second one after it.
The server's peak resident memory (VmHWM) is read just before it is stopped."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What are pharma companies' digital-health priorities?"
NEXT_QUESTION = "Quelles start-up ont levé des fonds ?"


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def measure(index: str | Path, question: str = QUESTION, next_question: str = NEXT_QUESTION, timeout: float = 300) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "healthqa", "serve", "--index", str(index), "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("the server exited")
                if time.perf_counter() - started > timeout:
                    raise SystemExit(f"the server did not answer within {timeout} s")
                time.sleep(0.05)
        ready = time.perf_counter() - started
        from gradio_client import Client

        client = Client(url, verbose=False)
        asked = time.perf_counter()
        _question, history, _sources = client.predict(question, [], [], [], "", "", api_name="/ask")
        answered = time.perf_counter()
        second_start = time.perf_counter()
        client.predict(next_question, [], [], [], "", "", api_name="/ask")
        second = time.perf_counter() - second_start
        server_peak = _peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
    return {
        "ready_s": round(ready, 3),
        "first_answer_s": round(answered - asked, 3),
        "start_to_first_answer_s": round(answered - started, 3),
        "next_answer_s": round(second, 3),
        "server_peak_rss_mb": round(server_peak),
        "answer": str(history[-1]["content"])[:160],
    }


def measure_stage(index: str) -> dict:
    """bench/run.py's stage: measure() in a stage process (the server is its child)."""
    return measure(index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", default=str(ROOT / "index"))
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args()
    result = measure(args.index, args.question)
    print(f"server ready after {result['ready_s']:.2f} s; first answer {result['first_answer_s']:.2f} s later "
          f"({result['start_to_first_answer_s']:.2f} s from start); next answer {result['next_answer_s']:.2f} s; "
          f"server peak RSS {result['server_peak_rss_mb']} MB")
    print("answer:", result["answer"])


if __name__ == "__main__":
    main()
