"""The real-data evaluation tool (eval/realdata.py) without the data: it must say so, not fail obscurely."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))

import realdata  # noqa: E402


def test_absent_data_is_named_and_skipped(tmp_path, monkeypatch):
    monkeypatch.setitem(realdata.CORPORA, "piaf", realdata.Corpus("piaf", tmp_path / "absent" / "pages"))
    messages = []
    result = realdata.run(sets=["piaf-fr", "piaf-en"], cache=tmp_path / "cache", log=messages.append)
    assert result["sets"] == {} and result["missing_data"] == ["piaf"]
    assert any("real data not found" in m and "piaf" in m for m in messages), messages
    assert not (tmp_path / "cache").exists()  # nothing was built


def test_the_table_has_one_row_per_set_pair_and_retrieval():
    scores = {"questions": 4, "recall@1": 0.25, "recall@5": 0.5, "recall@10": 0.75, "mrr@10": 0.4}
    report = {"all": scores, "en": scores, "en->fr": scores, "latency_ms_p50": 3.2}
    result = {"sets": {"piaf-en": {"retrieval": {"default": report, "lexical": report}}}, "builds": {}}
    lines = realdata.table(result).splitlines()
    assert lines[0].split()[:3] == ["set", "pair", "retrieval"]
    assert [line.split()[:3] for line in lines[1:]] == [["piaf-en", "en->fr", "default"], ["piaf-en", "en->fr", "lexical"]]
    assert lines[1].split()[3:] == ["4", "0.250", "0.500", "0.750", "0.400", "3.20"]


def test_answer_figures_show_the_all_group_only():
    scores = {"questions": 1, "recall@1": 1.0, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 1.0}
    answers = {"all": {"contains_answer": 0.5}, "en->fr": {"contains_answer": 0.25}, "fr:first": 0.1, "latency_ms_p50": 40.0}
    result = {"sets": {"sample": {"retrieval": {"default": {"all": scores, "latency_ms_p50": 1.0}}, "answers": answers}},
              "builds": {}}
    answer_line = realdata.table(result).splitlines()[-1]
    assert answer_line.split() == ["sample", "all.contains_answer", "0.5", "latency_ms_p50", "40"]
