"""The command line, run in-process through main() and once as a real subprocess."""

import json
import os
import re
import subprocess
import sys

import pytest

from healthqa.cli import _parser, main

from conftest import CORPUS, ROOT


def test_build_search_stats_json(tmp_path, capsys):
    index = str(tmp_path / "idx")
    assert main(["build", str(CORPUS / "medtechledger"), "--index", index, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["articles"] == 11 and report["passages"] > 11
    assert set(report["timings"]) == {"extract", "split", "encode", "write"}
    assert {s["source"].rsplit("/", 1)[-1] for s in report["skipped"]} == {"page-cookie-wall.html", "page-empty.html"}

    assert main(["search", "connected insulin pen price", "--k", "2", "--json", "--index", index]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["k"] == 2 and len(result["hits"]) == 2
    hit = result["hits"][0]
    assert set(hit) == {"rank", "score", "text", "heading", "position", "start", "end", "article"}
    assert set(hit["article"]) == {"id", "url", "title", "site", "author", "date", "language", "source"}

    assert main(["stats", "--json", "--index", index]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["articles"] == 11 and stats["languages"] == {"en": 11} and stats["model"] == "all-MiniLM-L6-v2"
    assert len(stats["skipped"]) == 2

    assert main(["ask", "Who led Kestrel Bio-Sensing's Series B?", "--json", "--index", index]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert not reply["abstained"] and reply["citations"][0]["article"]["site"] == "MedTech Ledger"


def test_index_from_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HEALTHQA_INDEX", str(tmp_path / "nothing-here"))
    assert main(["stats"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("healthqa: error: no index at") and str(tmp_path / "nothing-here") in error
    assert "\n" not in error  # one line, no traceback


def test_bad_source_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(["build", str(tmp_path / "missing"), "--index", str(tmp_path / "i")]) == 1
    assert capsys.readouterr().err.strip() == f"healthqa: error: {tmp_path / 'missing'}: no such file or folder"


def test_every_command_has_help_and_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = _parser()._subparsers._group_actions[0].choices
    assert set(commands) >= {"build", "search", "stats", "ask", "serve"}
    for name, parser in commands.items():
        assert parser.description, name
        assert re.search(rf"healthqa {name}\b", readme), f"README does not document `healthqa {name}`"
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"


def test_console_script_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "healthqa", "search", "x", "--index", str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=ROOT,
    )
    assert result.returncode == 1 and "no index at" in result.stderr and "Traceback" not in result.stderr
