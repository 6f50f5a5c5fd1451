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


def test_the_answer_table_shows_the_all_group_of_each_set():
    scores = {"questions": 1, "recall@1": 1.0, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 1.0}
    group = {"questions": 80, "answer_contains": 0.5, "first_sentence_contains": 0.4, "retrieved_contains": 0.9,
             "median_words": 50, "abstained": 0.0125, "short_given": 0.3, "short_exact": 0.1, "short_f1": 0.2}
    answers = {"groups": {"all": group, "en->fr": {**group, "answer_contains": 0.25}},
               "unanswerable": {"questions": 0, "abstained": None}, "latency_ms_p50": 40.0, "latency_ms_p95": 90.0}
    result = {"sets": {"sample": {"retrieval": {"default": {"all": scores, "latency_ms_p50": 1.0}}, "answers": answers}},
              "builds": {}}
    row = next(line for line in realdata.table(result).splitlines() if line.startswith("sample") and "0.500" in line)
    assert row.split() == ["sample", "80", "0.500", "0.400", "0.900", "50", "0.013", "-", "0.30", "0.10", "0.20", "40.0", "90.0"]


def test_the_mixed_index_sets_run_only_when_named_and_need_both_folders(tmp_path, monkeypatch):
    mixed = [s for s in realdata.SETS if s.corpus == "mixed"]
    assert sorted(s.name for s in mixed) == ["covidqa-en-mixed", "covidqa-fr-mixed", "piaf-en-mixed", "piaf-fr-mixed"]
    assert not any(s.default for s in mixed) and all(s.default for s in realdata.SETS if s.corpus != "mixed")
    (tmp_path / "piaf").mkdir()
    half_there = realdata.Corpus("mixed", tmp_path / "piaf", also=(tmp_path / "absent",))
    assert half_there.folders == [tmp_path / "piaf", tmp_path / "absent"] and not half_there.available
    monkeypatch.setitem(realdata.CORPORA, "mixed", half_there)
    messages = []
    result = realdata.run(sets=["piaf-fr-mixed"], cache=tmp_path / "cache", log=messages.append)
    assert result["sets"] == {} and result["missing_data"] == ["mixed"]
