"""Runs one benchmark stage in this process and prints its result as one JSON line (see common.run_stage).

    .venv/bin/python bench/stages.py STAGE 'JSON_PARAMS'

The stage's own figures come with `process.peak_rss_mb`, the high-water mark of this process's resident
memory, which is the stage's alone since nothing else ran here."""

from __future__ import annotations

import importlib
import json
import sys
import time

from common import peak_rss_mb

STAGES = {
    "corpus_build": "corpus_build:corpus_build",
    "incremental": "incremental:incremental",
    "corpus_latency": "latency:corpus_latency",
    "first_answer": "first_answer:measure_stage",
    "faiss": "large:faiss_stage",
    "lexical": "large:lexical_stage",
    "store": "large:store_stage",
    "hybrid": "large:hybrid_stage",
    "updates": "updates:updates_stage",
    "ray": "ray_build:measure",
    "engines": "engines:measure",
}


def main() -> None:
    stage, params = sys.argv[1], json.loads(sys.argv[2])
    module_name, function_name = STAGES[stage].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    started = time.perf_counter()
    result = function(**params)
    result.setdefault("process", {})
    result["process"].update(peak_rss_mb=round(peak_rss_mb()), stage_s=round(time.perf_counter() - started, 2))
    sys.stdout.flush()
    print("\n" + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
