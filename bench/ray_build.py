"""The build's stages on Ray against one process, on the same pages, in one run.

    .venv/bin/python bench/ray_build.py PAGES_FOLDER [--out results.json]

  one process   read + extract each page (stages.extract_page), split (stages.article_passages), encode the
                encoder inputs (Encoder.encode), as a local build runs them
  ray 2 nodes   the same stages as Ray Data stages (distributed.RayRunner) on a two-node cluster started on
                this machine (ray.cluster_utils.Cluster, 2 logical CPUs a node), cluster start excluded

Both give the same passages and vectors (checked). On one 2-core machine two "nodes" share the same two
cores, so the ratio cannot exceed about 1: it measures Ray's overhead (task and actor start, model load per
actor, moving data through the object store), which a real cluster pays too. Per-node figures for the cost
model in README "Running beyond one machine" come from the one-process run."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from healthqa import Encoder, Settings  # noqa: E402
from healthqa.extract import iter_html_files, read_page  # noqa: E402
from healthqa.stages import article_passages, extract_page  # noqa: E402


def pages_of(folder: Path, settings: Settings) -> list:
    return [(str(path.resolve()), (lambda path=path: read_page(path, settings.max_page_bytes))) for path in iter_html_files([folder])]


def one_process(pages: list, settings: Settings) -> tuple[dict, np.ndarray]:
    started = time.perf_counter()
    encoder = Encoder(settings.model, batch_size=settings.batch_size)
    encoder.dimension  # the model's load counts, as in a build
    loaded = time.perf_counter()
    results = [extract_page(source, page, settings) for source, page in pages]
    extracted = time.perf_counter()
    split = [article_passages(r.article, encoder, settings) for r in results if r.article]
    inputs = [text for passages in split for _, text in passages]
    splitted = time.perf_counter()
    vectors = encoder.encode(inputs)
    done = time.perf_counter()
    return {"seconds": round(done - started, 2), "load_s": round(loaded - started, 2), "extract_s": round(extracted - loaded, 2),
            "split_s": round(splitted - extracted, 2), "encode_s": round(done - splitted, 2), "passages": len(inputs),
            "articles": len(split), "passages_per_s": round(len(inputs) / (done - started), 1),
            "encode_passages_per_s": round(len(inputs) / (done - splitted), 1)}, vectors


def on_ray(pages: list, settings: Settings, dimension: int) -> tuple[dict, np.ndarray]:
    from ray.cluster_utils import Cluster

    from healthqa.distributed import RayRunner

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    try:
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        with RayRunner(address=cluster.address) as runner:
            started = time.perf_counter()
            results = runner.extract(pages, settings, {})
            extracted = time.perf_counter()
            split = runner.split([r.article for r in results if r.article], settings)
            inputs = [text for passages in split for _, text in passages]
            splitted = time.perf_counter()
            vectors = runner.encode(inputs, settings, dimension)
            done = time.perf_counter()
            nodes = runner.nodes()
    finally:
        cluster.shutdown()
    return {"seconds": round(done - started, 2), "extract_s": round(extracted - started, 2), "split_s": round(splitted - extracted, 2),
            "encode_s": round(done - splitted, 2), "passages": len(inputs), "nodes": nodes,
            "passages_per_s": round(len(inputs) / (done - started), 1)}, vectors


def measure(pages: str) -> dict:
    """One process against Ray on two nodes, on one folder of pages (also `make bench`'s "ray" stage)."""
    settings = Settings.from_env()
    listed = pages_of(Path(pages), settings)
    local, local_vectors = one_process(listed, settings)
    print("one process ", local, flush=True)
    ray_figures, ray_vectors = on_ray(listed, settings, local_vectors.shape[1])
    print("ray 2 nodes ", ray_figures, flush=True)
    same = ray_vectors.shape == local_vectors.shape and bool(np.allclose(ray_vectors, local_vectors, atol=1e-5))
    return {"pages": len(listed), "one_process": local, "ray_two_nodes": ray_figures, "same_vectors": same,
            "throughput_ratio": round(ray_figures["passages_per_s"] / local["passages_per_s"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = measure(str(args.pages))
    print(json.dumps({key: results[key] for key in ("pages", "same_vectors", "throughput_ratio")}))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
