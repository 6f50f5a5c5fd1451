"""The chat server while its index changes: the "Add articles" tab in a real browser, URLs refused by the
private-address guard, and 50 concurrent chat sessions through the server's own API while a rebuild runs."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from healthqa import Settings, build

from conftest import CORPUS, ROOT
from http_site import STORIES, serve_site
from servers import ask, serving

pytestmark = pytest.mark.browser
NEW_ARTICLE = CORPUS / "pharmapulse" / "2022-03-kvistgaard-chief-digital-officer.html"


@pytest.fixture
def index_dir(tmp_path: Path, encoder) -> Path:
    settings = Settings(index_dir=tmp_path / "index")
    build([CORPUS / "medtechledger"], settings=settings, encoder=encoder)
    return settings.index_dir


def test_add_tab_fetches_a_feed_and_the_chat_uses_it(index_dir: Path, tmp_path: Path, browser):
    with serve_site() as site, serving(index_dir, tmp_path / "serve.log", {"HEALTHQA_ALLOW_PRIVATE_URLS": "1"}) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_function("() => /^11 articles/.test((document.querySelector('#hq-stats')?.innerText || '').trim())", timeout=60_000)
        page.get_by_role("tab", name="Add articles").click()
        page.fill("#hq-urls textarea", f"{site.url('/feed.xml')}\n{site.url('/missing-page')}")
        page.click("#hq-add")
        page.wait_for_function("() => /Done in/.test((document.querySelector('#hq-add-status')?.innerText || ''))", timeout=120_000)
        status = page.inner_text("#hq-add-status")
        assert f"{len(STORIES)} added" in status and "HTTP 404" in status
        page.wait_for_function(f"() => /^{11 + len(STORIES)} articles/.test((document.querySelector('#hq-stats')?.innerText || '').trim())",
                               timeout=30_000)

        page.fill("#hq-urls textarea", "")
        page.set_input_files("#hq-files input[type=file]", str(NEW_ARTICLE))
        page.wait_for_selector("#hq-files :text('kvistgaard')", timeout=30_000)
        page.click("#hq-add")
        page.wait_for_function("() => /Done in .*: 1 added/.test((document.querySelector('#hq-add-status')?.innerText || ''))", timeout=120_000)

        page.get_by_role("tab", name="Chat").click()
        ask(page, "Which hospital network is piloting AI triage software in its emergency departments?")
        page.wait_for_selector("#hq-sources .hq-card", timeout=60_000)
        assert STORIES[0].title in page.inner_text("#hq-sources .hq-card >> nth=0")
        page.close()


def test_private_addresses_are_refused_from_the_web(index_dir: Path, tmp_path: Path):
    from gradio_client import Client

    with serve_site() as site, serving(index_dir, tmp_path / "serve.log") as url:
        client = Client(url, verbose=False)
        status = client.predict(f"{site.url('/feed.xml')}\nfile:///etc/passwd", [], api_name="/add")
        assert "not file:///etc/passwd" in status  # only http(s) here
        status = client.predict(site.url("/feed.xml"), [], api_name="/add").replace("\\", "")  # Markdown escapes
        assert status.startswith("**Nothing added**")
        assert "refused: 127.0.0.1 is a loopback address" in status and "HEALTHQA_ALLOW_PRIVATE_URLS" in status
        assert site.hits("/feed.xml") == 0


def test_fifty_sessions_during_a_rebuild(index_dir: Path, tmp_path: Path):
    """Every question is answered while `healthqa add` publishes a new generation; afterwards the new article is
    found. p95 latency goes to tmp_path/latency.json and the test output."""
    from gradio_client import Client

    questions = ["Who led Kestrel Bio-Sensing's Series B?", "Quels dispositifs de télésurveillance sont remboursés ?",
                 "What did the FDA clear for VentriScan?", "Which connected insulin pen launched and at what price?"]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    with serving(index_dir, tmp_path / "serve.log") as url:
        clients = [Client(url, verbose=False) for _ in range(50)]
        rebuild = subprocess.Popen([sys.executable, "-m", "healthqa", "add", str(NEW_ARTICLE), "--index", str(index_dir), "--quiet"],
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def session(number: int, client: object) -> None:
            for turn in range(3):
                question = questions[(number + turn) % len(questions)]
                started = time.perf_counter()
                try:
                    _, history, _ = client.predict(question, [], [], [], "", "", api_name="/ask")
                    answer = history[-1]["content"]
                    text = answer if isinstance(answer, str) else " ".join(part.get("text", "") for part in answer)
                    assert text and not text.startswith("⚠"), text
                except Exception as exc:  # collected, asserted below with the question
                    with lock:
                        errors.append(f"{question}: {type(exc).__name__}: {exc}")
                    continue
                with lock:
                    latencies.append(time.perf_counter() - started)

        threads = [threading.Thread(target=session, args=(n, c)) for n, c in enumerate(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        output, _ = rebuild.communicate(timeout=300)
        assert rebuild.returncode == 0, output
        assert not errors, errors[:5]
        assert len(latencies) == 150 and time.monotonic() - started < 300

        _, history, sources = Client(url, verbose=False).predict("Who is Kvistgaard's first chief digital officer?", [], [], [], "", "", api_name="/ask")
        assert "Kvistgaard" in sources
    ordered = sorted(latencies)
    report = {"sessions": 50, "questions": len(latencies), "p50_s": round(statistics.median(ordered), 3),
              "p95_s": round(ordered[int(0.95 * len(ordered)) - 1], 3), "max_s": round(ordered[-1], 3)}
    (tmp_path / "latency.json").write_text(json.dumps(report))
    print(f"50 sessions during a rebuild: {report}")
