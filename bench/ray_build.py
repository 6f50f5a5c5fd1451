"""A build on Ray against a build in one process, on the same pages, in one run.

    .venv/bin/python bench/ray_build.py PAGES_FOLDER [--out results.json]

  one process   healthqa.build(PAGES) with an empty embedding cache, as `healthqa build` runs it
  ray 2 nodes   the same build with settings.ray set to a two-node cluster started on this machine
                (ray.cluster_utils.Cluster, 2 logical CPUs a node; the cluster's start is not counted, joining
                it is): reading, extraction, splitting and encoding as Ray Data stages

Both must give the same index (articles, passages, skip reasons; vectors within 1e-5): checked. On one 2-core
machine the two "nodes" share the same two cores, so the ratio cannot exceed about 1: it measures Ray's
overhead (tasks and actors started, a model load per actor, data through the object store), which a real
cluster pays too; a second build on the same cluster tells the first job's set-up from each build's own cost.
The one-process figures are the per-node figures of the cost model in README "Running
beyond one machine"."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from healthqa import Index, Settings, build  # noqa: E402


def contents(index_dir: Path) -> tuple[list, np.ndarray]:
    manifest = json.loads((index_dir / "manifest.json").read_text())
    with sqlite3.connect(index_dir / manifest["store_file"]) as db:
        rows = [db.execute(query).fetchall() for query in (
            "SELECT id, url, title, text, site, date, language, source FROM articles ORDER BY id",
            'SELECT id, article_id, position, start, "end", text, terms, input_hash FROM passages ORDER BY id',
            "SELECT source, reason FROM skipped ORDER BY source")]
    index = Index.open(index_dir, settings=Settings(index_dir=index_dir))
    try:
        vectors = index.engine.vectors([row[0] for row in rows[1]])
    finally:
        index.close()
    return rows, vectors


def timed_build(pages: Path, settings: Settings) -> dict:
    started = time.perf_counter()
    report = build([pages], settings=settings, fresh=True)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "articles": report.articles, "passages": report.passages, "embedded": report.embedded,
            "timings": {key: round(value, 2) for key, value in report.timings.items()},
            "passages_per_s": round(report.passages / seconds, 1)}


def measure(pages: str) -> dict:
    """One process against Ray on two nodes, on one folder of pages (also `make bench`'s "ray" stage)."""
    from ray.cluster_utils import Cluster

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        local = timed_build(Path(pages), Settings.from_env(index_dir=work / "local"))
        print("one process ", local, flush=True)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
        try:
            cluster.add_node(num_cpus=2)
            cluster.wait_for_nodes()
            on_ray = timed_build(Path(pages), Settings.from_env(index_dir=work / "ray", ray=cluster.address))
            # Once more on the same cluster (an empty cache again): what stays is the cost of each build.
            again = timed_build(Path(pages), Settings.from_env(index_dir=work / "ray-again", ray=cluster.address))
        finally:
            cluster.shutdown()
        print("ray 2 nodes ", on_ray, "\nagain       ", again, flush=True)
        (expected, expected_vectors), (found, found_vectors) = contents(work / "local"), contents(work / "ray")
    same = expected == found and found_vectors.shape == expected_vectors.shape and bool(np.allclose(found_vectors, expected_vectors, atol=1e-5))
    return {"pages": pages, "one_process": local, "ray_two_nodes": on_ray, "ray_two_nodes_second_build": again, "same_index": same,
            "throughput_ratio": round(on_ray["passages_per_s"] / local["passages_per_s"], 3),
            "throughput_ratio_second_build": round(again["passages_per_s"] / local["passages_per_s"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = measure(str(args.pages))
    print(json.dumps({key: results[key] for key in ("pages", "same_index", "throughput_ratio")}))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
