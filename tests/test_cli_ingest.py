"""The command line around ingestion: `healthqa extract`, and the papercuts of issue 12 (a closed pipe,
--k 0, an `add` where every input fails)."""

import json
import os
import subprocess
import sys

from healthqa.cli import main

from conftest import CORPUS, ROOT

KESTREL = CORPUS / "medtechledger" / "2022-06-kestrel-biosensing-series-b.html"


def test_extract_shows_what_the_index_would_store(capsys):
    assert main(["extract", str(KESTREL)]) == 0
    out = capsys.readouterr().out
    assert "Title:    Kestrel Bio-Sensing raises" in out
    assert "Date:     2022-06-21" in out and "Language: en" in out
    assert "URL:      https://www.medtechledger.com/funding/2022/06/kestrel-biosensing-series-b" in out
    assert "Passages (" in out and "\n[1]" in out


def test_extract_json_holds_article_passages_and_evidence(capsys):
    assert main(["extract", str(KESTREL), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["indexed"] and report["reason"] == ""
    article = report["article"]
    assert article["site"] == "MedTech Ledger" and article["author"] and article["text"]
    assert report["passages"] and all(article["text"][p["start"]:p["end"]] == p["text"] for p in report["passages"])
    assert report["evidence"]["running_words"] > 100 and report["evidence"]["declared_type"] == "article"


def test_extract_of_a_skipped_page_gives_the_reason_and_exit_1(capsys):
    assert main(["extract", str(CORPUS / "pharmapulse" / "page-category-digital-health.html")]) == 1
    assert capsys.readouterr().out.startswith("Skipped: not an article: no running text")
    assert main(["extract", str(CORPUS / "echolabos" / "page-de-pressemitteilung.html"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["indexed"] and report["article"] is None and "language 'de'" in report["reason"]
    assert main(["extract", str(CORPUS / "echolabos" / "page-de-pressemitteilung.html"), "--languages", "de"]) == 0


def test_extract_of_a_missing_file_is_an_error(tmp_path, capsys):
    assert main(["extract", str(tmp_path / "nope.html")]) == 1
    assert capsys.readouterr().err.strip() == f"healthqa: error: {tmp_path / 'nope.html'}: no such file"


def test_search_k_0_is_an_error_not_an_empty_result(corpus_settings, corpus_index, capsys):
    assert main(["search", "insulin pen", "--k", "0", "--index", str(corpus_settings.index_dir)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == "healthqa: error: --k takes the number of passages to show, 1 or more, not 0"


def test_search_into_a_closed_pipe_ends_quietly(corpus_settings, corpus_index):
    """`healthqa search … --json | head`: the reader is gone before the output is written."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "healthqa", "search", "telemonitoring", "--json", "--k", "20",
         "--index", str(corpus_settings.index_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert err.decode() == ""
    assert process.returncode == 141


def test_add_where_every_input_fails_exits_1(tmp_path, capsys):
    index = str(tmp_path / "idx")
    pages = [str(CORPUS / "medtechledger" / "page-cookie-wall.html"), str(CORPUS / "medtechledger" / "page-empty.html")]
    assert main(["add", *pages, "--index", index, "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "page-cookie-wall.html: cookie or consent wall" in captured.out
    assert captured.err.strip() == "healthqa: error: nothing added or changed; 2 input(s) skipped, reasons above"
    assert main(["add", str(KESTREL), pages[0], "--index", index, "--quiet"]) == 0  # one added: success


def test_an_index_folder_holding_only_its_readme_is_a_missing_index(tmp_path, capsys):
    """The repository keeps index/README.md: the folder exists before any build, and builds keep the README."""
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "README.md").write_text("What a build writes here.\n")
    assert main(["search", "insulin pen", "--index", str(folder)]) == 1
    assert "no index at" in capsys.readouterr().err
    for extra in ([], ["--fresh"], ["--fresh"]):  # the third build removes the first generation's files
        assert main(["build", str(KESTREL), "--index", str(folder), "--quiet", *extra]) == 0
    assert (folder / "README.md").read_text() == "What a build writes here.\n"
    assert main(["search", "insulin pen", "--index", str(folder), "--k", "1"]) == 0
