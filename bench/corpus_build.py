"""Full build of the sample corpus with an empty embedding cache, against the raw encoding of the same inputs.

For one encoder, in one process:

    load      Encoder(name) and its backend (weights, tokenizer), then one warm-up text
    build     build(corpus/, fresh=True) into a new folder (so the embedding cache is empty), the encoder
              already loaded: wall time, and the stages BuildReport.timings gives (extract, split, encode,
              store, index, write)
    raw       encoder.encode(inputs) alone, where inputs are exactly the encoder inputs the build made
              (healthqa.build.make_passages on the same extracted articles: title context + passage text)

build and raw alternate `reps` times; the ratio uses the fastest of each (the least disturbed by other work on
the machine). overhead = build / raw - 1 is what the build adds to encoding."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from common import ROOT, disk_bytes, note


def _corpus_articles(settings):  # type: ignore[no-untyped-def]
    """The articles the build stores: every corpus page that is one, in the build's order."""
    from healthqa.errors import SourceError
    from healthqa.extract import extract_html, iter_html_files

    articles = []
    for path in iter_html_files([ROOT / "corpus"]):
        try:
            articles.append(extract_html(path.read_bytes(), source=str(path.resolve()), settings=settings))
        except SourceError:
            pass
    return articles


def index_sizes(index_dir: Path) -> dict[str, int]:
    """Bytes on disk of the generation in use (vectors and lexical of all its segments, store) and of the
    embedding cache."""
    from healthqa.index import Manifest

    manifest = Manifest.read(index_dir)
    sizes = {"vectors": sum(disk_bytes(index_dir / name / "vectors.faiss") for name in manifest.segments),
             "lexical": sum(disk_bytes(index_dir / name / "lexical") for name in manifest.segments),
             "store": disk_bytes(index_dir / manifest.store_file)}
    sizes["index_total"] = sum(sizes.values())
    sizes["embedding_cache"] = disk_bytes(index_dir / "embeddings.sqlite")
    return sizes


def corpus_build(workdir: str, model: str, reps: int = 2, keep: str = "") -> dict:
    from healthqa import Encoder, Settings, build
    from healthqa.build import make_passages

    workdir_path = Path(workdir)
    started = time.perf_counter()
    encoder = Encoder(model)
    _ = encoder.dimension  # loads the backend
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    encoder.encode(["warm-up"])
    warm_s = time.perf_counter() - started
    note(f"{encoder.name}: loaded in {load_s:.2f} s")

    builds, raws = [], []
    inputs: list[str] = []
    report = None
    for rep in range(reps):
        index_dir = workdir_path / f"build-{encoder.name}-{rep}"
        shutil.rmtree(index_dir, ignore_errors=True)
        settings = Settings(index_dir=index_dir, model=model)
        started = time.perf_counter()
        report = build([ROOT / "corpus"], settings=settings, encoder=encoder, fresh=True)
        wall = time.perf_counter() - started
        if not inputs:
            passages, inputs = make_passages(_corpus_articles(settings), encoder, settings)
            if len(inputs) != report.embedded:
                raise RuntimeError(f"make_passages gave {len(inputs)} inputs but the build embedded {report.embedded}")
        started = time.perf_counter()
        encoder.encode(inputs)
        raw = time.perf_counter() - started
        builds.append({"wall_s": round(wall, 3), "report_s": round(report.seconds, 3),
                       "timings": {k: round(v, 3) for k, v in report.timings.items()}, "embedded": report.embedded})
        raws.append(round(raw, 3))
        note(f"{encoder.name}: build {wall:.2f} s, raw encode {raw:.2f} s")
        sizes = index_sizes(index_dir)
        if rep < reps - 1 or not keep:
            shutil.rmtree(index_dir)
        else:
            shutil.rmtree(Path(keep), ignore_errors=True)
            shutil.move(str(index_dir), keep)
    assert report is not None
    best = min(builds, key=lambda b: b["wall_s"])
    raw_best = min(raws)
    passages = report.passages
    return {
        "model": encoder.name,
        "articles": report.articles,
        "passages": passages,
        "skipped": len(report.skipped),
        "also_published": report.also_published,
        "load_s": round(load_s, 3),
        "warm_up_s": round(warm_s, 3),
        "builds": builds,
        "raw_encode_s": raws,
        "build_s": best["wall_s"],
        "timings": best["timings"],
        "raw_s": raw_best,
        "ratio": round(best["wall_s"] / raw_best, 3),
        "overhead_share": {k: round(v / best["wall_s"], 3) for k, v in best["timings"].items()},
        "passages_per_s_raw": round(passages / raw_best, 1),
        "passages_per_s_build": round(passages / best["wall_s"], 1),
        "sizes": sizes,
        "bytes_per_passage": round(sizes["index_total"] / passages),
    }
