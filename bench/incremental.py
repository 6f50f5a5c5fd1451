"""Incremental update: adding one article to an index of `count` synthetic articles, against building them all.

    pages     bench/pages.py makes count + 2 distinct pages (see its docstring); the first `count` are the
              index's, the last two are the articles added afterwards
    full      build(pages/, fresh=True) into a new folder (empty embedding cache), encoder already loaded;
              checked: count articles, no page skipped, also_published == 0
    add       add([one new page]) to that index, same process and encoder: what a long-running process (the
              chat's "Add articles" tab) pays
    cli       `healthqa add PAGE --index DIR --json` in a new process: what a terminal user waits for,
              including Python start-up, imports and the encoder's load; its own `seconds` (the update
              alone) is reported too

add_ratio = add / full. What `add` costs is mostly fixed per update plus work in proportion to the whole
index (the store is copied, FAISS and BM25 are rebuilt from every stored vector and term), see its timings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import ENV, ROOT, note
from corpus_build import index_sizes


def incremental(workdir: str, count: int = 1000, seed: int = 7) -> dict:
    from healthqa import Encoder, Settings, build
    from healthqa.build import add
    from pages import synthetic_pages

    work = Path(workdir)
    pages_dir, extra_dir, index_dir = work / "pages", work / "extra", work / "index"
    for folder in (pages_dir, extra_dir, index_dir):
        shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    made = synthetic_pages(count + 2, seed)
    extra = []
    for number, (name, page) in enumerate(made):
        path = (pages_dir if number < count else extra_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        if number >= count:
            extra.append(path)
    generate_s = time.perf_counter() - started
    note(f"{count} + 2 synthetic pages written in {generate_s:.1f} s")

    started = time.perf_counter()
    encoder = Encoder()
    encoder.encode(["warm-up"])
    load_s = time.perf_counter() - started

    settings = Settings(index_dir=index_dir)
    started = time.perf_counter()
    full = build([pages_dir], settings=settings, encoder=encoder, fresh=True)
    full_s = time.perf_counter() - started
    note(f"full build: {full.articles} articles, {full.passages} passages in {full_s:.1f} s")
    problems = []
    if full.articles != count:
        problems.append(f"{full.articles} articles stored for {count} pages")
    if full.also_published:
        problems.append(f"{full.also_published} pages taken for the same story as another")
    if full.skipped:
        problems.append(f"{len(full.skipped)} skipped, e.g. {full.skipped[0].reason}")
    sizes = index_sizes(index_dir)

    started = time.perf_counter()
    added = add([extra[0]], settings=settings, encoder=encoder)
    add_s = time.perf_counter() - started
    note(f"add of one article: {add_s:.2f} s")
    if added.added != 1:
        problems.append(f"add stored {added.added} articles, not 1")

    command = [sys.executable, "-m", "healthqa", "add", str(extra[1]), "--index", str(index_dir), "--json"]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, env={**os.environ, **ENV}, capture_output=True, text=True)
    cli_s = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"healthqa add failed: {completed.stderr[-2000:]}")
    cli = json.loads(completed.stdout)
    note(f"healthqa add (new process): {cli_s:.2f} s")

    return {
        "pages": count,
        "generate_s": round(generate_s, 2),
        "encoder_load_s": round(load_s, 3),
        "articles": full.articles,
        "passages": full.passages,
        "also_published": full.also_published,
        "skipped": len(full.skipped),
        "checks": problems or "ok",
        "full_s": round(full_s, 3),
        "full_timings": {k: round(v, 3) for k, v in full.timings.items()},
        "full_passages_per_s": round(full.passages / full_s, 1),
        "full_over_encode_stage": round(full_s / full.timings["encode"], 3),
        "add_s": round(add_s, 3),
        "add_timings": {k: round(v, 3) for k, v in added.timings.items()},
        "add_embedded": added.embedded,
        "add_ratio": round(add_s / full_s, 4),
        "cli_add_s": round(cli_s, 3),
        "cli_add_update_s": round(cli["seconds"], 3),
        "cli_add_ratio": round(cli_s / full_s, 4),
        "cli_add_with_load_ratio": round(cli_s / (full_s + load_s), 4),
        "sizes": sizes,
        "bytes_per_passage": round(sizes["index_total"] / full.passages),
    }
