"""`healthqa serve` as a real subprocess on a free local port, for the browser and API tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ROOT


@contextmanager
def serving(index_dir: Path, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "healthqa", "serve", "--index", str(index_dir), "--port", str(port)],
            cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        started = time.monotonic()
        while time.monotonic() - started < 120:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"the server exited:\n{log.read_text()}")
                time.sleep(0.3)
        else:
            pytest.fail(f"the server did not answer within 120 s:\n{log.read_text()}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def ask(page, question: str) -> None:
    answers_before = page.locator("#hq-chat .bot, #hq-chat [data-testid='bot']").count()
    page.fill("#hq-question textarea", question)
    page.press("#hq-question textarea", "Enter")
    page.wait_for_function(
        "([n]) => document.querySelectorAll('#hq-chat .bot, #hq-chat [data-testid=\"bot\"]').length > n",
        arg=[answers_before], timeout=60_000,
    )
    page.wait_for_function("() => !document.querySelector('#hq-chat').innerText.trim().endsWith('…')", timeout=60_000)
