"""Merging segments, in the background: off the path of updates and searches.

    snapshot   the store's segments and tombstones at one generation (a read transaction)
    build      without any lock: the live passages of the merged segments into one new segment: vectors from
               the segments themselves, BM25 postings merged (no text is read, nothing is encoded). A full merge
               adds the small segments' vectors to a copy of the base's graph (HNSW takes additions as its
               build does), its removed passages staying tombstones; when they reach MERGE_REMOVED_SHARE of the
               index (or `rebuild`), it builds the base anew without them, as a fresh build would
    publish    under the writers' lock, for a moment: the new segment replaces the merged ones and their
               tombstones are forgotten, in one store transaction; updates committed meanwhile are kept (their
               segments have larger ids; their tombstones stay, now pointing into the new segment)

Readers keep answering from the generation they opened; a killed merge leaves its work folder (.merge-*),
removed by the next update. One merge at a time (.merge.lock); a fresh build meanwhile makes it give up."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import HealthQAError, IndexProblem
from .index import Manifest
from .lexical import LexicalSegment
from .segments import (
    MERGE_REMOVED_SHARE, VECTORS, exclusive, load_segment, merge_plan, new_generation, place_segment, remove_unused, segment_dir,
    segment_names, write_segment,
)
from .settings import Settings
from .store import Store
from .vectors import VectorIndex


@dataclass(frozen=True, slots=True)
class MergeReport:
    index_dir: str
    kind: str  # "full", "small", or "" when there was nothing to merge
    rebuilt: bool  # the base's graph built anew (else the small segments' vectors were added to it)
    segments_before: int
    segments_after: int
    passages: int  # in the new segment
    dropped: int  # removed passages left out
    seconds: float
    timings: dict[str, float]
    published: bool


def merge(settings: Settings | None = None, *, kind: str = "full", rebuild: bool = False) -> MergeReport:
    """Merge the index's segments: `kind` "full" (everything into one base), "small" (the small segments
    into one) or "auto" (what segments.merge_plan says is due, possibly nothing). A full merge rebuilds the
    base's graph without its removed passages when they are many, or with `rebuild`."""
    settings = settings or Settings.from_env()
    index_dir = settings.index_dir
    started = time.perf_counter()
    timings: dict[str, float] = {}
    busy = "a merge of {index_dir} is already running"
    with exclusive(index_dir, wait=0, name=".merge.lock", busy=busy):
        manifest = Manifest.read(index_dir)
        store = Store.open(index_dir / manifest.store_file)
        try:
            records = store.segments()
            tombstones = np.asarray(store.tombstones(), dtype=np.int64)
        finally:
            store.close()
        if kind == "auto":
            kind = merge_plan(records, len(tombstones))
        chosen = records if kind == "full" else records[1:] if kind == "small" else []
        if kind not in ("full", "small", ""):
            raise HealthQAError(f"unknown merge kind {kind!r}: choose full, small or auto")
        if len(chosen) < 1 or (kind == "small" and len(chosen) < 2):
            return MergeReport(str(index_dir), "", False, len(records), len(records), 0, 0, time.perf_counter() - started, timings, False)

        clock = time.perf_counter()
        base_removed = int(np.count_nonzero(tombstones <= records[0].last_id))
        append = kind == "full" and not rebuild and base_removed < MERGE_REMOVED_SHARE * max(1, sum(r.passages for r in records))
        low = chosen[1].first_id if append and len(chosen) > 1 else chosen[0].first_id
        high = chosen[-1].last_id
        dropped = tombstones[(tombstones >= low) & (tombstones <= high)] if len(chosen) > 1 or not append else tombstones[:0]
        ids_parts, vector_parts, lexical_parts = [], [], []
        base_index = None
        if append and len(chosen) == 1:  # one segment, few removed passages: nothing worth rewriting
            return MergeReport(str(index_dir), "", False, len(records), len(records), 0, 0, time.perf_counter() - started, timings, False)
        for number, record in enumerate(chosen):
            segment = load_segment(index_dir, record)
            lexical_parts.append(segment.lexical)
            if append and number == 0:  # a copy of the base's graph, read from its file (readers keep theirs)
                base_index = VectorIndex.load(segment_dir(index_dir, record.name) / VECTORS)
                continue
            ids, vectors = segment.vectors.reconstruct_all()
            keep = ~np.isin(ids, dropped)
            ids_parts.append(ids[keep])
            vector_parts.append(vectors[keep])
            del segment, ids, vectors
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.int64)
        vectors = np.concatenate(vector_parts) if vector_parts else np.zeros((0, 1), dtype=np.float32)
        order = np.argsort(ids, kind="stable")
        ids, vectors = ids[order], vectors[order]
        del ids_parts, vector_parts
        timings["read"] = time.perf_counter() - clock

        clock = time.perf_counter()
        lexical = LexicalSegment.merge([part for part in lexical_parts], dropped)
        del lexical_parts
        timings["lexical"] = time.perf_counter() - clock
        clock = time.perf_counter()
        if base_index is not None:
            if len(ids):
                base_index.add(vectors, ids)
            index = base_index
        else:
            index = VectorIndex.build(vectors, ids, kind="auto" if kind == "full" else "flat")
        ids = lexical.ids
        del vectors
        timings["vectors"] = time.perf_counter() - clock
        clock = time.perf_counter()
        name = new_generation()
        record, folder = write_segment(index_dir, name, ids, index, lexical, temporary_prefix=".merge-")
        del index, lexical
        timings["write"] = time.perf_counter() - clock

        clock = time.perf_counter()
        published = _publish(index_dir, manifest, [r.name for r in chosen], record, folder, dropped)
        timings["publish"] = time.perf_counter() - clock
    after = len(records) - len(chosen) + 1
    return MergeReport(str(index_dir), kind, base_index is None, len(records), after, record.passages, len(dropped),
                       time.perf_counter() - started, timings, published)


def _publish(index_dir: Path, snapshot: Manifest, merged: list[str], record, folder: Path, dropped: np.ndarray) -> bool:  # type: ignore[no-untyped-def]
    """The new segment in place of the merged ones, if the index is still the one the merge started from."""
    with exclusive(index_dir):
        try:
            manifest = Manifest.read(index_dir)
        except IndexProblem:
            manifest = None
        if manifest is None or manifest.store_file != snapshot.store_file:  # rebuilt from scratch meanwhile
            shutil.rmtree(folder, ignore_errors=True)
            return False
        store = Store.open_writable(index_dir / manifest.store_file)
        try:
            current = store.segments()
            if not set(merged) <= {r.name for r in current}:
                shutil.rmtree(folder, ignore_errors=True)
                return False
            kept = {store.path.name, *segment_names(current)}
            place_segment(index_dir, record, folder)
            generation = new_generation()
            store.replace_segments(merged, record, dropped.tolist(), {"generation": generation})
            manifest = manifest.with_state(store)
            manifest.write(index_dir)
            kept |= set(manifest.segments)
        finally:
            store.close()
        remove_unused(index_dir, kept)
    return True
