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
    assert set(report["timings"]) == {"extract", "split", "encode", "store", "index", "write"}
    assert {s["source"].rsplit("/", 1)[-1] for s in report["skipped"]} == {"page-cookie-wall.html", "page-empty.html"}

    assert main(["search", "connected insulin pen price", "--k", "2", "--json", "--index", index]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["k"] == 2 and len(result["hits"]) == 2
    hit = result["hits"][0]
    assert set(hit) == {"rank", "score", "similarity", "text", "heading", "position", "start", "end", "article"}
    assert set(hit["article"]) == {"id", "url", "title", "site", "author", "date", "language", "source", "also_at"}

    assert main(["stats", "--json", "--index", index]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["articles"] == 11 and stats["languages"] == {"en": 11} and stats["model"] == "use-multilingual-v3" and stats["retrieval"] == "hybrid"
    assert len(stats["skipped"]) == 2

    assert main(["ask", "Who led Kestrel Bio-Sensing's Series B?", "--json", "--index", index]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert not reply["abstained"] and reply["citations"][0]["article"]["site"] == "MedTech Ledger"


def test_eval_compares_retrievals(tmp_path, capsys):
    index = str(tmp_path / "idx")
    assert main(["build", str(CORPUS / "medtechledger"), "--index", index, "--quiet"]) == 0
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "Who led Kestrel Bio-Sensing\'s Series B?", "answers": ["Harrowgate Ventures"], "language": "en", "extra": 1}\n'
        '\n{"question": "Quel fonds a mené la série B de Kestrel Bio-Sensing ?", "answers": ["Harrowgate Ventures"]}\n'
        '{"question": "Unrelated", "answerable": false}\n'
    )
    capsys.readouterr()
    assert main(["eval", str(questions), "--index", index, "--k", "1,3", "--compare", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ks"] == [1, 3]
    assert list(report["reports"]) == ["hybrid:adaptive", "lexical", "dense", "hybrid:language-aware", "hybrid:weighted", "hybrid:rrf"]
    default = report["reports"]["hybrid:adaptive"]
    assert default["all"]["questions"] == 2 and set(default) >= {"all", "en", "fr", "en->?", "fr->?"}
    assert set(default["all"]) == {"questions", "recall@1", "recall@3", "mrr@10"}

    assert main(["eval", str(questions), "--index", index]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["retrieval", "questions", "n", "recall@1", "recall@5", "recall@10", "mrr@10"]
    assert "hybrid:adaptive" in table and "lexical" not in table

    assert main(["eval", str(questions), "--index", index, "--k", "five"]) == 1
    assert "--k takes comma-separated whole numbers" in capsys.readouterr().err
    questions.write_text('{"answers": ["x"]}\n')
    assert main(["eval", str(questions), "--index", index]) == 1
    assert capsys.readouterr().err.strip().endswith("q.jsonl:1: not a JSON object with a 'question' string")


def test_serving_beyond_this_machine_needs_expose(tmp_path, capsys):
    assert main(["serve", "--host", "0.0.0.0", "--index", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert "--expose" in error and "--auth" in error and "\n" not in error.strip()


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


def test_ask_shows_the_short_answer_first(corpus_index, capsys):
    index = str(corpus_index.directory)
    question = "Who led Kestrel Bio-Sensing's Series B?"
    assert main(["ask", question, "--json", "--index", index]) == 0
    reply = json.loads(capsys.readouterr().out)
    short = reply["short_answer"]
    assert set(short) == {"text", "marker", "start", "end"} and short["text"] == "Harrowgate Ventures"
    cited = next(c for c in reply["citations"] if c["marker"] == short["marker"])
    assert cited["passage"][short["start"] : short["end"]] == short["text"]
    assert main(["ask", question, "--index", index]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"Harrowgate Ventures [{short['marker']}]"  # plain when piped
    assert main(["ask", "Why do hospitals adopt telemonitoring?", "--json", "--index", index]) == 0
    assert json.loads(capsys.readouterr().out)["short_answer"] is None  # an explanation has no short answer


def test_eval_answers_report(corpus_index, tmp_path, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "Who led Kestrel Bio-Sensing\'s Series B?", "answers": ["Harrowgate Ventures"], "language": "en"}\n'
        '{"question": "Qui a mené la série B de Kestrel Bio-Sensing ?", "answers": ["Harrowgate Ventures"]}\n'
        '{"question": "How much did Novadyne Health raise for its radiology software?", "answerable": false}\n'
    )
    index = str(corpus_index.directory)
    assert main(["eval", str(questions), "--answers", "--json", "--index", index]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"questions", "model", "groups", "unanswerable", "quotes", "quotes_verbatim",
                           "latency_ms_p50", "latency_ms_p95"}
    assert set(report["groups"]) == {"all", "en", "fr"}  # no expected articles: no language pair
    scores = report["groups"]["all"]
    assert set(scores) == {"questions", "answer_contains", "first_sentence_contains", "retrieved_contains",
                           "median_words", "abstained", "short_given", "short_exact", "short_f1",
                           "first_citation_expected"}
    assert scores["questions"] == 2 and scores["retrieved_contains"] == 1.0 and scores["abstained"] == 0.0
    assert report["groups"]["en"]["answer_contains"] == 1.0 and report["groups"]["en"]["short_exact"] == 1.0
    assert report["unanswerable"] == {"questions": 1, "abstained": 1.0}
    assert report["quotes_verbatim"] == report["quotes"] > 0
    assert report["latency_ms_p95"] >= report["latency_ms_p50"] > 0
    assert main(["eval", str(questions), "--answers", "--index", index]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["questions", "n", "answer"] and table[1].split()[:2] == ["all", "2"]
    assert any(line.startswith("unanswerable") for line in table) and table[-1].startswith("quotes verbatim")
