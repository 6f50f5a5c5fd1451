"""Segments: the folders that index the stored passages, and the index folder's housekeeping.

An index is one large segment (the base) and small recent ones, searched together: an update writes one small
segment for the passages it adds and records the ones it removes as tombstones (rows of the store), so its cost
follows what changed, not the size of the index. A merge (merge.py, in the background) later folds the small
segments into one, or everything into a new base without the removed passages. Segments hold ordered,
disjoint id ranges (ids only grow), are written once under a temporary name, renamed into place, and never
changed; the store's `segments` table says which ones are in use.

    segment-<name>/vectors.faiss    the passages' vectors (VectorIndex: exact for small segments)
    segment-<name>/lexical/         their BM25 postings (LexicalSegment)

Policy (MERGE_* below, chosen with bench/updates.py): small segments are merged together when there are more
than MERGE_SMALL_SEGMENTS of them; everything is merged into a new base when the small segments hold more than
MERGE_PENDING_PASSAGES passages or the tombstones reach MERGE_REMOVED_SHARE of the index."""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .errors import HealthQAError, IndexCorrupt
from .lexical import LexicalSegment
from .store import SegmentRecord
from .vectors import VectorIndex

VECTORS = "vectors.faiss"
LEXICAL = "lexical"
# Above this many small segments, the next merge folds them into one (a search pays a little for each).
MERGE_SMALL_SEGMENTS = 8
# Above this many passages in small segments (exact search, whose cost grows with them: at 100k passages, 4,949
# pending ones made the search 1.2-1.3x slower without query encoding, 0.6 ms of flat scan), or this share of
# removed passages in the index, the next merge is a full one (see merge.py). README "Keeping the index current".
MERGE_PENDING_PASSAGES = 3_000
MERGE_REMOVED_SHARE = 0.10
# How long an update waits for another writer (an update, or a merge publishing) before giving up.
LOCK_WAIT_SECONDS = 120.0
_GENERATED = ("store-", "segment-", "vectors-", "lexical-", ".store-", ".segment-", ".vectors-", ".lexical-")
# A file a process writes before renaming it into place, named after the writer's pid (see writer_temporary).
_WRITER_TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")


class Segment:
    """A loaded segment: its vectors and its postings. Loaded once per process while some index uses it."""

    def __init__(self, record: SegmentRecord, vectors: VectorIndex, lexical: LexicalSegment) -> None:
        self.record, self.vectors, self.lexical = record, vectors, lexical


_loaded: "weakref.WeakValueDictionary[tuple[str, str], Segment]" = weakref.WeakValueDictionary()


def new_generation() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def segment_dir(index_dir: Path, name: str) -> Path:
    return index_dir / f"segment-{name}"


def write_segment(index_dir: Path, name: str, ids: np.ndarray, vectors: np.ndarray | VectorIndex,
                  lexical: LexicalSegment, *, kind: str = "flat", temporary_prefix: str = ".segment-") -> tuple[SegmentRecord, Path]:
    """The segment's files in a temporary folder, flushed to disk; the caller renames it into place (see
    `place_segment`) in the same lock as it commits the store."""
    index = vectors if isinstance(vectors, VectorIndex) else VectorIndex.build(vectors, ids, kind=kind)
    folder = index_dir / f"{temporary_prefix}{name}.tmp"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    index.save(folder / VECTORS)
    lexical.save(folder / LEXICAL)
    for path in (folder / VECTORS, *sorted((folder / LEXICAL).iterdir())):
        fsync_file(path)
    fsync_dir(folder / LEXICAL)
    fsync_dir(folder)
    sizes = {"vectors": (folder / VECTORS).stat().st_size, "lexical": disk_size(folder / LEXICAL)}
    first, last = (int(ids[0]), int(ids[-1])) if len(ids) else (0, -1)
    return SegmentRecord(name, first, last, int(len(ids)), index.kind, sizes), folder


def place_segment(index_dir: Path, record: SegmentRecord, folder: Path) -> None:
    os.replace(folder, segment_dir(index_dir, record.name))
    fsync_dir(index_dir)


def load_segment(index_dir: Path, record: SegmentRecord) -> Segment:
    """The segment's files, checked against the sizes the store records; shared with any index of this
    process that already loaded them (segments never change)."""
    folder = segment_dir(index_dir, record.name)
    key = (str(folder.resolve()), record.name)
    segment = _loaded.get(key)
    if segment is not None:
        return segment
    rebuild = f"rebuild the index with `healthqa build --index {index_dir}`"
    for kind, path in (("vectors", folder / VECTORS), ("lexical", folder / LEXICAL)):
        if not path.exists():
            raise IndexCorrupt(f"the index at {index_dir} lacks its file {path.relative_to(index_dir)}; {rebuild}")
        if disk_size(path) != record.sizes.get(kind):
            raise IndexCorrupt(f"the file {path} does not have the size the store records (damaged or truncated); {rebuild}")
    vectors = VectorIndex.load(folder / VECTORS)
    lexical = LexicalSegment.load(folder / LEXICAL)
    if vectors.size != record.passages or lexical.size != record.passages:
        raise IndexCorrupt(f"the segment {folder} does not hold the {record.passages} passages the store records; {rebuild}")
    segment = Segment(record, vectors, lexical)
    _loaded[key] = segment
    return segment


_combined: "weakref.WeakValueDictionary[tuple[str, ...], Segment]" = weakref.WeakValueDictionary()


def searched_together(segments: Sequence[Segment]) -> list[Segment]:
    """The base, and the small segments combined in memory into one (exact vectors, postings merged): a
    search pays for two segments however many small ones updates wrote. Removed passages stay in the
    combination (the tombstones hide them), so it only depends on which segments there are."""
    if len(segments) <= 2:
        return list(segments)
    small = segments[1:]
    key = tuple(segment.record.name for segment in small)
    combined = _combined.get(key)
    if combined is None:
        parts = [segment.vectors.reconstruct_all() for segment in small]
        ids = np.concatenate([part[0] for part in parts])
        vectors = VectorIndex.build(np.concatenate([part[1] for part in parts]), ids, kind="flat")
        lexical = LexicalSegment.merge([segment.lexical for segment in small])
        record = SegmentRecord("+".join(key), small[0].record.first_id, small[-1].record.last_id, len(ids), "flat", {})
        combined = _combined[key] = Segment(record, vectors, lexical)
        combined.parts = list(small)  # type: ignore[attr-defined]  # keeps them loaded while the combination lives
    return [segments[0], combined]


def merge_plan(records: Sequence[SegmentRecord], tombstones: int) -> str:
    """"full" (rebuild the base), "small" (fold the small segments into one) or "" (nothing to do)."""
    if len(records) < 2 and tombstones == 0:
        return ""
    pending = sum(record.passages for record in records[1:])
    total = sum(record.passages for record in records)
    if pending > MERGE_PENDING_PASSAGES or (total and tombstones >= MERGE_REMOVED_SHARE * total):
        return "full"
    if len(records) - 1 > MERGE_SMALL_SEGMENTS:
        return "small"
    return ""


# --- the index folder ---------------------------------------------------------------------------------------


@contextmanager
def exclusive(index_dir: Path, *, wait: float = LOCK_WAIT_SECONDS, name: str = ".build.lock",
              busy: str = "another build is writing to {index_dir}; wait for it to finish") -> Iterator[None]:
    """The index's writer lock (updates and merge publications); waits up to `wait` seconds for it."""
    with open(index_dir / name, "w") as lock:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise HealthQAError(busy.format(index_dir=index_dir)) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def merge_running(index_dir: Path) -> bool:
    try:
        with open(index_dir / ".merge.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def writer_temporary(index_dir: Path, name: str) -> Path:
    """Where this process writes `name` before renaming it over the old one: named after its pid, so that a
    sweep (remove_unused) can tell a killed writer's leftover from a file another process is writing."""
    return index_dir / f".{name}.{os.getpid()}.tmp"


def remove_unused(index_dir: Path, keep: Iterable[str]) -> None:
    """Generated files and folders that no kept generation names: left by older generations, by a killed
    update or merge. A running merge's work folder (.merge-*) is left alone, and a file still being written
    by a live process."""
    kept = set(keep)
    kept |= {name + suffix for name in list(kept) for suffix in ("-wal", "-shm", "-journal")}
    merging = merge_running(index_dir)
    for path in index_dir.iterdir():
        name = path.name
        writer = _WRITER_TEMPORARY.match(name)
        ours = (name.startswith(_GENERATED) or (name.startswith(".merge-") and not merging)
                or (writer is not None and not _alive(int(writer.group(1)))))
        if ours and name not in kept:
            try:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def segment_names(records: Iterable[SegmentRecord]) -> set[str]:
    return {f"segment-{record.name}" for record in records}


def disk_size(path: Path) -> int:
    """Bytes of a file, or of all files in a folder."""
    if path.is_dir():
        return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())
    return path.stat().st_size


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
