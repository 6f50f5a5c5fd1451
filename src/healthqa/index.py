"""The index on disk, and searching it.

Layout of an index folder:
    manifest.json               the commit point: format, model, counts, fingerprint, and the files below
    vectors-<generation>.faiss  passage vectors (FAISS), ids = passage ids
    store-<generation>.sqlite   articles, passages, skipped inputs

A build writes a new generation beside the current one and then replaces manifest.json atomically, so a
reader always sees either the old index or the new one, complete."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .embed import Encoder, model_display_name
from .errors import IndexCorrupt, IndexMismatch, IndexMissing
from .records import Filters, Hit
from .settings import Settings
from .store import Store
from .vectors import VectorIndex

if TYPE_CHECKING:
    import numpy as np

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Manifest:
    format_version: int
    generation: str
    model: str
    dimension: int
    articles: int
    passages: int
    corpus_fingerprint: str
    built_at: str
    vectors_file: str
    store_file: str
    sizes: dict[str, int]

    @classmethod
    def read(cls, index_dir: Path) -> "Manifest":
        path = index_dir / MANIFEST
        if not path.is_file():
            raise IndexMissing(f"no index at {index_dir}: build one with `healthqa build [SOURCE ...] --index {index_dir}`")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format_version") != FORMAT_VERSION:
                raise IndexMismatch(
                    f"the index at {index_dir} has format version {data.get('format_version')!r}, this healthqa "
                    f"reads version {FORMAT_VERSION}: rebuild it with `healthqa build --index {index_dir}`"
                )
            return cls(**{key: data[key] for key in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(f"the manifest {path} is damaged ({exc}); rebuild with `healthqa build --index {index_dir}`") from None

    def write(self, index_dir: Path) -> None:
        """Atomic: written beside, flushed, then renamed over the old manifest."""
        temporary = index_dir / f".{MANIFEST}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, index_dir / MANIFEST)
        _fsync_dir(index_dir)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Index:
    """An opened index: load once, search many times (thread-safe)."""

    def __init__(self, directory: Path, manifest: Manifest, store: Store, vectors: VectorIndex, encoder: Encoder) -> None:
        self.directory = directory
        self.manifest = manifest
        self.store = store
        self.vectors = vectors
        self.encoder = encoder

    @classmethod
    def open(cls, directory: str | Path | None = None, *, settings: Settings | None = None, encoder: Encoder | None = None) -> "Index":
        """Checks the manifest, the files and the model before anything is searched."""
        settings = settings or Settings.from_env()
        directory = Path(directory) if directory is not None else settings.index_dir
        manifest = Manifest.read(directory)
        wanted_model = encoder.name if encoder else model_display_name(settings.model)
        if manifest.model != wanted_model:
            raise IndexMismatch(
                f"the index at {directory} was built with the model '{manifest.model}' but '{wanted_model}' is "
                f"configured: rebuild it with `healthqa build --index {directory}`, or set HEALTHQA_MODEL={manifest.model}"
            )
        for kind, name in (("vectors", manifest.vectors_file), ("store", manifest.store_file)):
            path = directory / name
            if not path.is_file():
                raise IndexCorrupt(f"the index at {directory} lacks its file {name}; rebuild it with `healthqa build --index {directory}`")
            if path.stat().st_size != manifest.sizes.get(kind):
                raise IndexCorrupt(
                    f"the file {path} does not have the size the manifest records (damaged or truncated); "
                    f"rebuild the index with `healthqa build --index {directory}`"
                )
        vectors = VectorIndex.load(directory / manifest.vectors_file)
        store = Store.open(directory / manifest.store_file)
        if vectors.size != manifest.passages or store.counts()[1] != manifest.passages:
            store.close()
            raise IndexCorrupt(f"the files of the index at {directory} disagree on the passage count; rebuild it")
        encoder = encoder or Encoder(settings.model, batch_size=settings.batch_size)
        return cls(directory, manifest, store, vectors, encoder)

    def search(self, query: str, k: int = 5, *, filters: Filters | None = None) -> list[Hit]:
        """The k passages closest in meaning to the query, best first, among those that pass the filters."""
        query = query.strip()
        if not query or k < 1:
            return []
        return self.search_vector(self.encoder.encode_query(query), k, filters=filters)

    def search_vector(self, vector: "np.ndarray", k: int, *, filters: Filters | None = None) -> list[Hit]:
        if vector.shape[0] != self.vectors.dimension:
            raise IndexMismatch(
                f"the model gives vectors of {vector.shape[0]} dimensions but the index holds {self.vectors.dimension}; rebuild it"
            )
        allowed = self.store.passage_ids(filters) if filters else None
        scores, ids = self.vectors.search(vector, k, allowed)
        found = self.store.passages_with_articles([int(i) for i in ids if i >= 0])
        hits: list[Hit] = []
        for score, passage_id in zip(scores, ids):
            if int(passage_id) in found:
                passage, article = found[int(passage_id)]
                hits.append(Hit(passage.text, float(score), len(hits) + 1, passage, article))
        return hits

    def stats(self) -> dict[str, Any]:
        data = self.store.stats()
        data.update(
            index=str(self.directory),
            model=self.manifest.model,
            dimension=self.manifest.dimension,
            built_at=self.manifest.built_at,
            format_version=self.manifest.format_version,
            corpus_fingerprint=self.manifest.corpus_fingerprint,
        )
        return data

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


_default_indexes: dict[tuple[str, str], Index] = {}
_default_lock = threading.Lock()


def default_index(index: str | Path | None = None, settings: Settings | None = None) -> Index:
    """The index at `index` (default: HEALTHQA_INDEX, else ./index), opened once per process and kept."""
    settings = settings or Settings.from_env()
    directory = Path(index) if index is not None else settings.index_dir
    key = (str(directory.resolve()), settings.model)
    with _default_lock:
        opened = _default_indexes.get(key)
        if opened is None:
            opened = _default_indexes[key] = Index.open(directory, settings=settings)
    return opened


def search(
    query: str,
    k: int | None = None,
    *,
    filters: Filters | None = None,
    index: str | Path | None = None,
    settings: Settings | None = None,
) -> list[Hit]:
    """Search the default index; see default_index()."""
    settings = settings or Settings.from_env()
    return default_index(index, settings).search(query, k or settings.k, filters=filters)


def _fsync_dir(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
