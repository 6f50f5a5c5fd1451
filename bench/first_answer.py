"""Time from `healthqa serve` to the first answer, through the server's own API (gradio_client).

    .venv/bin/python bench/first_answer.py [--index index]"""

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", default=str(ROOT / "index"))
    parser.add_argument("--question", default="What are pharma companies' digital-health priorities?")
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "healthqa", "serve", "--index", args.index, "--port", str(port)],
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
                time.sleep(0.05)
        ready = time.perf_counter() - started
        from gradio_client import Client

        client = Client(url, verbose=False)
        asked = time.perf_counter()
        _question, history, _sources = client.predict(args.question, [], [], [], "", "", api_name="/ask")
        answered = time.perf_counter()
        second_start = time.perf_counter()
        client.predict("Quelles start-up ont levé des fonds ?", [], [], [], "", "", api_name="/ask")
        second = time.perf_counter() - second_start
    finally:
        server.terminate()
        server.wait()
    print(f"server ready after {ready:.2f} s; first answer {answered - asked:.2f} s later "
          f"({answered - started:.2f} s from start); next answer {second:.2f} s")
    print("answer:", str(history[-1]["content"])[:160])


if __name__ == "__main__":
    main()
