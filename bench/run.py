"""Performance benchmark: build, incremental add, search and answer latency, memory and size, in one run.

    make bench                                   (= .venv/bin/python bench/run.py)
    .venv/bin/python bench/run.py --quick        (no 1M, fewer repetitions: about 6 minutes)
    .venv/bin/python bench/run.py --sizes 100000 --out /tmp/results.json

Everything is measured in one run, so that ratios compare figures taken under the same conditions, and each
figure is marked against its target. Stages run one after another, each in its own process (so that peak
memory is per stage); the parent notes how much CPU other processes took during each one ("others" below: the
average number of cores busy with other work). A short stage measured while others held more than a third of
a core (the corpus builds, latency, first answer, incremental) is run again (up to --retries times) at once
if the machine has become quieter (a 2 s sample), else once more at the end of the run if it is quiet then;
the least disturbed attempt is kept. Figures marked '!' in the table were still taken on a busy machine.

    1  corpus build      bench/corpus_build.py: full build of corpus/ (44 articles) with an empty embedding
                         cache, its stages, the encoder's load, and the raw encode of the same inputs; for
                         use-multilingual-v3 and all-MiniLM-L6-v2. Target: build / raw encode <= 1.10
    2b updates           bench/updates.py at 100k and 1M (after the search stages below): add() and remove() of
                         one article, search with pending segments and after a merge, the merge's time and
                         memory while searches go on. Targets: add/remove <= 2 s at 100k, <= 5 s at 1M; search
                         p50 with pending segments <= 1.2x the merged index; merge <= the previous format's
                         full index build at that size
    2  incremental       bench/incremental.py (pages from bench/pages.py): full build of 1,000 synthetic
                         articles vs add() of one more. Target: add <= 2 % of the full build
    3  search latency    bench/latency.py on the corpus index; bench/large.py at 100k and 1M passages
                         (synthetic, FAISS part by bench/scale.py). Targets: hybrid p50 <= 10 ms at 100k,
                         <= 15 ms at 1M; FAISS recall@10 >= 0.95
    4  answer latency    bench/latency.py: Assistant.answer on corpus/questions.jsonl. Target: p50 <= 50 ms
    5  memory, disk      peak RSS of every stage's process; index bytes per passage at each size
    6  first answer      bench/first_answer.py: `healthqa serve` to the first answer through gradio_client

Run on demand, not in CI. The JSON (bench/results.json by default) holds every figure; the table the main ones."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CPUS, NOISY_CORES, ROOT, others_now, run_stage  # noqa: E402

TARGETS = {
    "build_ratio": 1.10,
    "add_ratio": 0.02,
    "search_p50_ms": {100_000: 10.0, 1_000_000: 15.0},
    "recall_at_10": 0.95,
    "update_s": {100_000: 2.0, 1_000_000: 5.0},
    "pending_search_ratio": 1.20,
    "answer_p50_ms": 50.0,
}
MODELS = ("use-multilingual-v3", "all-MiniLM-L6-v2")
CHEAP_STAGES = ("corpus_build", "corpus_latency", "first_answer", "incremental")  # re-run when disturbed


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.work = workdir
        self.started = time.perf_counter()
        self.results: dict[str, Any] = {}
        self.pending: list[tuple[str, str, dict[str, Any]]] = []  # disturbed short stages, to retry at the end

    def log(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.0f}s] {message}", flush=True)

    def stage(self, key: str, stage: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run a stage; re-run a short one that other processes disturbed, keep the least disturbed attempt."""
        attempts = []
        tries = 1 + (self.args.retries if stage in CHEAP_STAGES else 0)
        for attempt in range(tries):
            self.log(f"{key}{f' (attempt {attempt + 1}: the previous one was disturbed)' if attempt else ''} ...")
            result = run_stage(stage, params, log=lambda line: print(line, flush=True))
            attempts.append(result)
            process = result["process"]
            self.log(f"{key}: {process['wall_s']:.1f} s, peak RSS {process.get('peak_rss_mb', 0):,} MB, "
                     f"others took {process['others_cores']:.2f} cores{' (disturbed)' if process['disturbed'] else ''}")
            if not process["disturbed"] or attempt == tries - 1:
                break
            busy = others_now()
            if busy > NOISY_CORES:
                self.log(f"{key}: not run again now, other processes still take {busy:.2f} cores (retried at the end if quieter)")
                self.pending.append((key, stage, params))
                break
        return self._keep(key, attempts)

    def _keep(self, key: str, attempts: list[dict[str, Any]]) -> dict[str, Any]:
        previous = self.results.get(key, {}).get("process", {}).get("attempts", [])
        best = min(attempts + ([self.results[key]] if key in self.results else []), key=lambda r: r["process"]["others_cores"])
        best["process"]["attempts"] = previous + [r["process"]["others_cores"] for r in attempts]
        self.results[key] = best
        self.save()
        return best

    def retry_pending(self) -> None:
        """Disturbed short stages, once more at the end of the run, each only if the machine is quiet then."""
        for key, stage, params in self.pending:
            busy = others_now()
            for _ in range(5):  # wait up to ~30 s for the others to finish
                if busy <= NOISY_CORES:
                    break
                time.sleep(4)
                busy = others_now()
            if busy > NOISY_CORES:
                self.log(f"{key}: still disturbed, not run again (other processes take {busy:.2f} cores)")
                continue
            self.log(f"{key}: run again on a quieter machine ...")
            result = run_stage(stage, params, log=lambda line: print(line, flush=True))
            process = result["process"]
            self.log(f"{key}: {process['wall_s']:.1f} s, others took {process['others_cores']:.2f} cores")
            self._keep(key, [result])
        self.pending = []

    def save(self) -> None:
        report = {"meta": self.meta(), "results": self.results, "summary": summary_rows(self.results, self.sizes())}
        self.args.out.parent.mkdir(parents=True, exist_ok=True)
        self.args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    def sizes(self) -> list[int]:
        return [int(s) for s in self.args.sizes.split(",") if s.strip()] if self.args.sizes else []

    def meta(self) -> dict[str, Any]:
        import numpy

        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cpus": CPUS,
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "quick": self.args.quick,
            "sizes": self.sizes(),
            "noisy_cores_threshold": NOISY_CORES,
            "elapsed_s": round(time.perf_counter() - self.started),
        }

    def scale_stages(self) -> None:
        """Beyond one machine (the 'scale' extra): Ray on two local nodes against one process, and Milvus Lite
        against FAISS + bm25s on the sample corpus and the real dev sets when ../shared/data is there."""
        import importlib.util

        if importlib.util.find_spec("ray") is None or importlib.util.find_spec("pymilvus") is None:
            self.log("scale stages skipped: the 'scale' extra is not installed (pip install '.[scale]')")
            return
        data = ROOT.parent / "shared" / "data"
        sets = [("corpus", ROOT / "corpus", ROOT / "corpus" / "questions.jsonl")]
        if data.is_dir():
            sets += [(name, data / name / "pages", data / name / "questions.jsonl") for name in ("piaf-fr", "covidqa-en")]
        pages = data / "covidqa-en" / "pages" if data.is_dir() else ROOT / "corpus"
        self.stage("ray", "ray", {"pages": str(pages)})
        for name, sources, questions in sets[: 1 if self.args.quick else None]:
            self.stage(f"engines:{name}", "engines", {"sources": str(sources), "questions": str(questions)})

    def run(self) -> None:
        quick = self.args.quick
        reps = 1 if quick else 2
        corpus_index = self.work / "corpus-index"
        for model in MODELS[:1] if self.args.sizes_only else MODELS:
            self.stage(f"build:{model}", "corpus_build", {
                "workdir": str(self.work), "model": model, "reps": reps,
                "keep": str(corpus_index) if model == MODELS[0] else "",
            })
        if not self.args.sizes_only:
            self.stage("latency:corpus", "corpus_latency", {"index_dir": str(corpus_index), "reps": 1 if quick else 3})
            self.stage("first_answer", "first_answer", {"index": str(corpus_index)})
            self.stage("incremental", "incremental", {"workdir": str(self.work / "incremental"), "count": self.args.pages})
            self.scale_stages()
        for size in self.sizes():
            folder = str(self.work / f"large-{size}")
            queries = 100 if quick else 200
            self.stage(f"faiss:{size}", "faiss", {"folder": folder, "size": size, "queries": queries, "filter_queries": queries // 2})
            self.stage(f"lexical:{size}", "lexical", {"folder": folder, "size": size, "corpus_index": str(corpus_index)})
            self.stage(f"store:{size}", "store", {"folder": folder, "size": size, "corpus_index": str(corpus_index)})
            self.stage(f"hybrid:{size}", "hybrid", {"folder": folder, "size": size, "reps": 1 if quick else 3})
            self.stage(f"updates:{size}", "updates", {"folder": folder, "size": size, "reps": 1 if quick else 2})
            shutil.rmtree(folder, ignore_errors=True)
        self.retry_pending()
        self.save()


# ---------------------------------------------------------------- summary


def _row(section: str, name: str, value: Any, unit: str = "", target: str = "", met: bool | None = None,
         others: float | None = None, note: str = "") -> dict[str, Any]:
    return {"section": section, "measure": name, "value": value, "unit": unit, "target": target, "met": met,
            "others_cores": others, "note": note}


def summary_rows(results: dict[str, Any], sizes: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for model in MODELS:
        r = results.get(f"build:{model}")
        if not r:
            continue
        others = r["process"]["others_cores"]
        t = r["timings"]
        section = f"1 corpus build, {model}"
        rows.append(_row(section, f"build ({r['articles']} art., {r['passages']} passages, empty cache)", r["build_s"], "s", others=others,
                         note="extract {extract:.2f} / split {split:.2f} / encode {encode:.2f} / store {store:.2f} / index {index:.2f} / write {write:.2f} s".format(**t)))
        first = r["builds"][0]
        if len(r["builds"]) > 1:
            rows.append(_row(section, "first build of the process (one-time loads)", first["wall_s"], "s", others=others,
                             note="extract {extract:.2f} / split {split:.2f} / encode {encode:.2f}; the fastest build is shown above".format(**first["timings"])))
        rows.append(_row(section, "raw encoder.encode of the same inputs", r["raw_s"], "s", others=others))
        rows.append(_row(section, "build / raw encode", r["ratio"], "x", "<= 1.10", r["ratio"] <= TARGETS["build_ratio"], others,
                         note=f"overhead {100 * (r['ratio'] - 1):.0f} % (fastest of each); first build / raw {first['wall_s'] / r['raw_s']:.2f}"))
        rows.append(_row(section, "passages/s: raw encode | whole build", f"{r['passages_per_s_raw']} | {r['passages_per_s_build']}", "p/s", others=others))
        rows.append(_row(section, "encoder load (+ first text)", f"{r['load_s']:.2f} (+{r['warm_up_s']:.2f})", "s", others=others))
    r = results.get("incremental")
    if r:
        others = r["process"]["others_cores"]
        section = "2 incremental"
        checks = "" if r["checks"] == "ok" else f"CHECKS FAILED: {r['checks']}"
        rows.append(_row(section, f"full build, {r['articles']} articles, {r['passages']} passages", r["full_s"], "s", others=others,
                         note=checks or f"also_published {r['also_published']}, skipped {r['skipped']}; {r['full_passages_per_s']} passages/s; "
                                               + " / ".join(f"{k} {v:.1f}" for k, v in r["full_timings"].items())))
        rows.append(_row(section, "full build / its encode stage", r["full_over_encode_stage"], "x", others=others,
                         note=f"as build / raw encode above, with {r['articles']:,} articles instead of 44"))
        rows.append(_row(section, "add() of one new article (encoder loaded)", r["add_s"], "s", others=others,
                         note=" / ".join(f"{k} {v:.2f}" for k, v in r["add_timings"].items())))
        rows.append(_row(section, "add / full build", f"{100 * r['add_ratio']:.2f}", "%", "<= 2 %", r["add_ratio"] <= TARGETS["add_ratio"], others))
        rows.append(_row(section, "`healthqa add` in a new process (with load)", r["cli_add_s"], "s", others=others,
                         note=f"{100 * r['cli_add_ratio']:.1f} % of the full build; update alone {r['cli_add_update_s']:.2f} s; encoder load {r['encoder_load_s']:.2f} s"))
    r = results.get("latency:corpus")
    if r:
        others = r["process"]["others_cores"]
        section = f"3 search, corpus ({r['passages']} passages)"
        for mode, s in r["search"].items():
            rows.append(_row(section, f"{mode} p50 | p95", f"{s['p50_ms']:.1f} | {s['p95_ms']:.1f}", "ms", others=others))
        parts = r["parts"]
        rows.append(_row(section, "parts p50: encode|faiss|bm25|facts", " | ".join(f"{parts[p]['p50_ms']:.2f}" for p in ("encode_query", "faiss", "bm25", "facts_lookup")), "ms", others=others))
        a = r["answer"]
        rows.append(_row("4 answer", f"Assistant.answer p50 | p95 ({r['questions']} questions)", f"{a['p50_ms']:.1f} | {a['p95_ms']:.1f}", "ms", "p50 <= 50",
                         a["p50_ms"] <= TARGETS["answer_p50_ms"], others, note=f"{a['abstained_per_round']} abstained; encoding the passages' sentences (p50 {a['sentences_encoded_p50']}) "
                              f"takes {a['sentence_encoding_p50_ms']:.0f} ms, {100 * a['sentence_encoding_share']:.0f} % of answer time"))
    if "ray" in results:
        r = results["ray"]
        others = r["process"]["others_cores"]
        rows.append(_row("7 scale", f"Ray, 2 local nodes / one process ({r['one_process']['passages']} passages, same index: {r['same_index']})",
                         r["throughput_ratio"], "x", ">= 0.85", r["throughput_ratio"] >= 0.85, others))
    for key in sorted(k for k in results if k.startswith("engines:")):
        r = results[key]
        others = r["process"]["others_cores"]
        f, m = r["runs"]["faiss"], r["runs"]["milvus"]
        rows.append(_row("7 scale", f"{key} R@5 FAISS | Milvus ({r['passages']} passages)", f"{f['recall@5']:.3f} | {m['recall@5']:.3f}", "",
                         "within 0.02", abs(r["recall@5_difference"]) <= 0.02, others))
        rows.append(_row("7 scale", f"{key} search p50|p95 FAISS | Milvus Lite", f"{f['p50_ms']:.1f}|{f['p95_ms']:.1f} | {m['p50_ms']:.1f}|{m['p95_ms']:.1f}", "ms", others=others))
        rows.append(_row("7 scale", f"{key} build (warm cache) FAISS | Milvus; bytes/passage", f"{r['build_faiss_s']} | {r['build_milvus_s']} s; "
                         f"{r['faiss_bytes_per_passage']:,} | {r['milvus_bytes_per_passage']:,}", "", others=others))
    for size in sizes:
        section = f"3 search, {size:,} passages (synthetic)"
        f, h, lx, st = (results.get(f"{kind}:{size}") for kind in ("faiss", "hybrid", "lexical", "store"))
        target = TARGETS["search_p50_ms"].get(size)
        if h:
            others = h["process"]["others_cores"]
            for mode, s in h["search"].items():
                met = s["p50_ms"] <= target if (target and mode == "hybrid") else None
                rows.append(_row(section, f"{mode} p50 | p95", f"{s['p50_ms']:.1f} | {s['p95_ms']:.1f}", "ms",
                                 f"p50 <= {target:g}" if target and mode == "hybrid" else "", met, others))
            parts = h["parts"]
            rows.append(_row(section, "parts p50: encode|faiss|bm25|vectors|facts|texts",
                             " | ".join(f"{parts[p]['p50_ms']:.2f}" for p in ("encode_query", "faiss", "bm25", "reconstruct", "facts_lookup", "passages_lookup")),
                             "ms", others=others, note=f"sum {parts['sum_of_p50_ms']:.1f} ms; {parts['candidates_mean']:.0f} candidates"))
        if f:
            kind = f["kind"]
            v = f["kinds"][kind]
            rows.append(_row(section, f"FAISS {kind} p50 | p95, recall@10", f"{v['p50_ms_1_thread']:.2f} | {v['p95_ms_1_thread']:.2f}, {v['recall_at_10']:.3f}",
                             "ms", ">= 0.95", v["recall_at_10"] >= TARGETS["recall_at_10"], f["process"]["others_cores"],
                             note=f"efSearch {v.get('ef_search', '-')}; build {v['build_s']:.0f} s"))
            if "flat" in f["kinds"] and kind != "flat":
                fl = f["kinds"]["flat"]
                rows.append(_row(section, "(reference) exact flat p50 | p95", f"{fl['p50_ms_1_thread']:.2f} | {fl['p95_ms_1_thread']:.2f}", "ms", others=f["process"]["others_cores"]))
        if lx:
            rows.append(_row(section, "BM25 build: postings (format 4) | bm25s (previous format)", f"{lx['build_s']:.1f} | {lx.get('bm25s_build_s', float('nan')):.1f}", "s", others=lx["process"]["others_cores"],
                             note=f"{lx['vocabulary']:,} terms, {lx['postings']:,} postings, {lx['terms_per_passage']} terms/passage"))
        u = results.get(f"updates:{size}")
        if u:
            usection = f"2b updates, {size:,} passages (synthetic)"
            others = u["process"]["others_cores"]
            limit = TARGETS["update_s"].get(size)
            for what in ("add", "remove"):
                p50 = u[what]["p50_ms"] / 1000
                rows.append(_row(usection, f"{what}() of one article p50 | max ({u[what]['n']} runs)", f"{p50:.2f} | {u[what]['max_ms'] / 1000:.2f}", "s",
                                 f"<= {limit:g} s" if limit else "", p50 <= limit if limit else None, others,
                                 note=" / ".join(f"{k} {v:.2f}" for k, v in u[what]["timings_last"].items())))
            rows.append(_row(usection, "reopen after an update (base shared)", u["reopen_s"], "s", others=others))
            after = u["search_after_merge"]
            built = u.get("search_as_built")  # in the interleaved rounds (results before 2026-12-03 lack it)
            dense = u.get("dense_p50_ms", {})
            for key, label in (("search_merged", "search p50 | p95, as built (1 segment), first"),
                               ("search_as_built", "search p50 | p95, as built, interleaved with the others"),
                               ("search_pending", f"search p50 | p95, {u['pending_segments']} small segments, {u['pending_passages']} passages pending"),
                               ("search_at_limit", f"search p50 | p95, {u['limit_segments']} small segments, {u['limit_passages']:,} passages pending"),
                               ("search_after_merge", "search p50 | p95, after the merge")):
                s = u.get(key)
                if not s:
                    continue
                ratio = s["p50_ms"] / after["p50_ms"]
                pending = key in ("search_pending", "search_at_limit")
                note = f"{ratio:.2f}x the merged index" if key != "search_after_merge" else ""
                if pending and built:
                    note += f", {s['p50_ms'] / built['p50_ms']:.2f}x the index as built"
                part = dense.get(key.removeprefix("search_"))
                if part is not None:
                    note += ("; " if note else "") + f"dense part {part:.2f} ms"
                like_base = u.get(f"{key}_ratio_synthetic_queries")
                if like_base is not None:
                    note += f"; with query vectors like the base's {like_base:.2f}x the merged index"
                rows.append(_row(usection, label, f"{s['p50_ms']:.1f} | {s['p95_ms']:.1f}", "ms",
                                 "<= 1.20x merged" if pending else "", ratio <= TARGETS["pending_search_ratio"] if pending else None, others,
                                 note=note))
            like_base = u.get("synthetic_queries_p50_ms")
            if like_base:  # the segments' own cost: query vectors drawn like the base's favour no index (updates.py)
                for key, label in (("pending", f"{u['pending_segments']} small segments"), ("at_limit", f"{u['limit_segments']} small segments at the limit")):
                    ratio = like_base[key] / like_base["after_merge"]
                    rows.append(_row(usection, f"search p50, {label}, query vectors like the base's", f"{like_base[key]:.1f}", "ms",
                                     "<= 1.20x merged", ratio <= TARGETS["pending_search_ratio"], others,
                                     note=f"{ratio:.2f}x the merged index ({like_base['after_merge']:.1f} ms), {like_base[key] / like_base['as_built']:.2f}x as built"))
            m = u["merge"]
            reference = None
            if f and lx and st:
                v = f["kinds"][f["kind"]]
                reference = v["build_s"] + lx.get("bm25s_build_s", lx["build_s"]) + st["copy_s"] + st["passage_index_inputs_s"] + (st.get("cache_read_s") or 0)
            during = m["search_during"] or {}
            merge_s = m["report"]["seconds"]
            rows.append(_row(usection, "merge (full)", round(merge_s, 1), "s", "<= full build" if reference else "",
                             (merge_s <= reference) if reference else None, others,
                             note=(f"previous format's full index build {reference:.0f} s; " if reference else "")
                                  + f"child process {m['wall_s']:.0f} s with start-up; "
                                  + "stages " + " / ".join(f"{k} {v:.1f}" for k, v in m["report"]["timings"].items())
                                  + f"; peak RSS {m['peak_rss_mb']:,} MB"))
            rebuilt = u.get("rebuild")
            if rebuilt:
                rebuild_s = rebuilt["report"]["seconds"]
                rows.append(_row(usection, "merge --rebuild (the base graph anew)", round(rebuild_s, 1), "s", "<= full build" if reference else "",
                                 (rebuild_s <= reference) if reference else None, others,
                                 note=(f"previous format's full index build {reference:.0f} s; " if reference else "")
                                      + "stages " + " / ".join(f"{k} {v:.1f}" for k, v in rebuilt["report"]["timings"].items())
                                      + f"; peak RSS {rebuilt['peak_rss_mb']:,} MB"))
            rows.append(_row(usection, "searches answered during the merge", m["searches"], "", others=others,
                             note=f"p50 {during.get('p50_ms', 0):.1f} ms, p95 {during.get('p95_ms', 0):.1f} ms; {m['searches_changed']} with other results"))
        if f and lx and st:
            v = f["kinds"][f["kind"]]
            cache_s, cache_note = st.get("cache_read_s"), "measured"
            if cache_s is None:  # scaled from the largest size where it was measured
                measured = [(s, results[f"store:{s}"]["cache_read_s"]) for s in sizes
                            if results.get(f"store:{s}", {}).get("cache_read_s") is not None]
                if measured:
                    base_size, base_s = max(measured)
                    cache_s, cache_note = base_s * size / base_size, f"scaled from {base_size:,}"
            fixed = (st["copy_s"] + st["passage_index_inputs_s"] + st["terms_split_s"] + lx.get("bm25s_build_s", lx["build_s"]) + v["build_s"]
                     + lx["save_s"] + v["save_s"] + (cache_s or 0))
            rows.append(_row(section, "previous format: add() of one article, lower bound (estimate)", round(fixed), "s", others=None,
                             note=f"what every update redid for the whole index before format 4: store copy {st['copy_s']:.1f} + read {st['passage_index_inputs_s'] + st['terms_split_s']:.1f} "
                                  f"+ cache read {cache_s or float('nan'):.1f} ({cache_note}) + BM25 build {lx.get('bm25s_build_s', lx['build_s']):.0f} + FAISS build {v['build_s']:.0f} + saves"))
    # memory and disk
    section = "5 peak memory (RSS high-water mark)"
    for key, r in results.items():
        if key.startswith("faiss:"):
            v = r["kinds"][r["kind"]]
            rows.append(_row(section, f"{key} build | search process", f"{v['build_peak_rss_mb']:,} | {v['search_peak_rss_mb']:,}", "MB", others=r["process"]["others_cores"]))
        elif key == "first_answer":
            rows.append(_row(section, "chat server (after two answers)", f"{r['server_peak_rss_mb']:,}", "MB", others=r["process"]["others_cores"]))
        else:
            rows.append(_row(section, key, f"{r['process']['peak_rss_mb']:,}", "MB", others=r["process"]["others_cores"]))
    section = "5 index on disk per passage"
    for key in [k for k in results if k.startswith("build:")] + ["incremental"] + [f"hybrid:{s}" for s in sizes]:
        r = results.get(key)
        if not r:
            continue
        passages = r.get("passages") or r.get("size")
        s = r["sizes"]
        rows.append(_row(section, f"{key} ({passages:,} passages)", f"{r['bytes_per_passage']:,.0f}", "B",
                         note=f"vectors {s['vectors'] / passages:,.0f} + BM25 {s['lexical'] / passages:,.0f} + store {s['store'] / passages:,.0f}"
                              + (f"; embedding cache {s['embedding_cache'] / passages:,.0f}" if "embedding_cache" in s else "")))
    r = results.get("first_answer")
    if r:
        others = r["process"]["others_cores"]
        rows.append(_row("6 first answer", "serve → page ready | → first answer", f"{r['ready_s']:.2f} | {r['start_to_first_answer_s']:.2f}", "s", others=others,
                         note=f"first answer {r['first_answer_s']:.2f} s after ready, next one {r['next_answer_s']:.2f} s"))
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = []
    width = max([len(r["measure"]) for r in rows] + [10])
    vwidth = max([len(f"{r['value']} {r['unit']}") for r in rows] + [5])
    section = None
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            lines.append(f"\n{section}")
        status = "" if r["met"] is None else ("met" if r["met"] else "NOT MET")
        target = f"{r['target']:<10} {status:<8}" if r["target"] else " " * 19
        others = "" if r["others_cores"] is None else f"others {r['others_cores']:.2f}"
        noisy = "!" if r["others_cores"] is not None and r["others_cores"] > NOISY_CORES else " "
        value = f"{r['value']} {r['unit']}".strip()
        lines.append(f"  {r['measure']:<{width}}  {value:>{vwidth}}  {target} {noisy}{others:<12} {r['note']}".rstrip())
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--quick", action="store_true", help="skip 1M, fewer repetitions")
    parser.add_argument("--sizes", help="comma-separated synthetic passage counts (default 100000,1000000; --quick: 100000; '' for none)")
    parser.add_argument("--pages", type=int, default=1000, help="synthetic articles of the incremental stage")
    parser.add_argument("--retries", type=int, default=1, help="re-runs of a short stage that others disturbed")
    parser.add_argument("--workdir", type=Path, help="work folder (default: a temporary one, removed)")
    parser.add_argument("--sizes-only", action="store_true", help="only the corpus build (USE) and the 100k/1M stages")
    parser.add_argument("--from-json", type=Path, help="print the table of an earlier results file and exit")
    args = parser.parse_args()
    if args.from_json:
        data = json.loads(args.from_json.read_text())
        print(table(summary_rows(data["results"], data["meta"]["sizes"])))
        return
    if args.sizes is None:
        args.sizes = "100000" if args.quick else "100000,1000000"
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="healthqa-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, workdir)
    try:
        bench.run()
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = summary_rows(bench.results, bench.sizes())
    print(table(rows))
    print(f"\n'others' = average cores other processes kept busy during the stage ({CPUS} cores); '!' marks a stage measured "
          f"while they held more than {NOISY_CORES} (its figures are likely slower than on a quiet machine).")
    print(f"Total {time.perf_counter() - bench.started:.0f} s. Every figure: {args.out}")


if __name__ == "__main__":
    main()
