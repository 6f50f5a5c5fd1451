import inspect
import os
import subprocess
import sys

import healthqa
from healthqa import Index, answer, search

from conftest import ROOT


def test_all_is_complete_and_sorted():
    public = {
        name for name, value in vars(healthqa).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(healthqa.__all__), public ^ set(healthqa.__all__)
    assert healthqa.__all__ == sorted(healthqa.__all__)


def test_search_and_answer_use_the_default_index_once(corpus_settings, corpus_index, monkeypatch):
    monkeypatch.setenv("HEALTHQA_INDEX", str(corpus_settings.index_dir))
    hits = search("What are pharma companies' digital-health priorities?", k=5)
    assert len(hits) == 5
    first = hits[0]
    assert first.text and first.score > 0 and first.article.title and first.article.url and first.article.date
    assert search("connected inhaler", k=1)[0].article is not None
    from healthqa.index import default_index
    assert default_index() is default_index()  # opened once per process
    reply = answer("Who led Kestrel Bio-Sensing's Series B?")
    assert reply.citations and isinstance(reply.to_dict()["citations"][0]["sentence"], str)


def test_index_object_serves_many_queries(corpus_index: Index):
    for query in ("telemonitoring", "essais cliniques décentralisés", "AI drug discovery milestones"):
        assert len(corpus_index.search(query, k=3)) == 3


def test_answering_with_the_default_encoder_never_imports_torch(corpus_index):
    """The chat server imports only what answering needs: the default encoder is numpy, so no torch, no
    sentence-transformers (importing them costs about 5 s and 500 MB)."""
    code = (
        "import sys; from healthqa import Assistant, Settings; import healthqa.web; "
        f"a = Assistant.open({str(corpus_index.directory)!r}); r = a.answer('Who led Kestrel Bio-Sensing Series B?'); "
        "assert not r.abstained; "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
