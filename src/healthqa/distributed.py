"""The build's stages on a Ray cluster, as Ray Data stages: the only module that imports ray.

    pages ──map_batches on extractor actors: read + extract + split (stages.extract_page, stages.article_passages)
          ──map_batches on encoder actors: the new passages' vectors──▶ driver: duplicates, what changed
          (changes.py), passage ids, the embedding cache (build.py), which takes the vectors it lacks from what
          streamed past
    inputs still missing (rare) ──map_batches on a pool of encoder actors──▶ vectors

Both pools run at once: the encoders work on the first pages' passages while later pages are extracted, and
their model loads hide behind extraction. Each encoder actor loads the model once, each extractor actor its
tokenizer. The driver keeps what needs the whole update (duplicate detection, the embedding cache, passage ids,
the store and the index files), exactly as a local build does, so the index is the same; the encoders skip the
inputs cached for the pages read again, so that an update encodes only new or changed passages (a passage cached
from another page may be encoded again: the driver uses the cached vector). `address` None starts a local
cluster (`ray.init(num_cpus=…)`), "auto" or host:port joins one (also RAY_ADDRESS). Files are read by the
workers (the page readers travel, not the bytes): on a cluster of several machines their paths must be visible
on every node (shared storage); pages downloaded by `add` are fetched by the driver and shipped."""

from __future__ import annotations

import os
import pickle
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cache import input_hash
from .embed import Encoder
from .errors import ConfigError
from .records import Article, Passage
from .settings import Settings
from .stages import PageBytes, PageResult, article_passages, extract_page

import ray
import ray.data
from ray import cloudpickle
from ray.data import ActorPoolStrategy

# Rows per batch given to one actor: enough to keep the encoder's batches full, small enough to spread.
EXTRACT_BATCH = 8
SPLIT_BATCH = 16
ENCODE_BATCH = 256
ENCODE_PAGES = 8  # pages per batch of the encoder actors that follow extraction (a few hundred passages)
# CPUs each actor asks for: the extractor and the encoder actors run at once, and Ray Data's own tasks need some.
STAGE_CPUS = 0.5


@dataclass
class RayRunner:
    """A connection to a Ray cluster for the duration of a build (a context manager)."""

    address: str | None = None  # None: start a local cluster; "auto", "host:port" or "ray://…": join one
    num_cpus: int | None = None  # CPUs of the local cluster (default: this machine's)
    actors: int | None = None  # extractor and encoder actors each (default: one per 2 CPUs of the cluster, at least 1)
    _started: bool = False
    # Passages the extractor actors split, by article id, with what they were split from.
    _split_already: dict[str, tuple[tuple[str, str], list[tuple[Passage, str]]]] = field(default_factory=dict)
    # Vectors the encoder actors made as pages streamed through `extract`, by the hash of their encoder input.
    _encoded: dict[str, np.ndarray] = field(default_factory=dict)

    def __enter__(self) -> "RayRunner":
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        # The workers run this very healthqa (shipped with the job), whatever version their nodes have installed;
        # its dependencies (trafilatura, the encoder's package) must be installed on every node.
        options: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False,
                                   "runtime_env": {"py_modules": [str(Path(__file__).resolve().parent)]}}
        if not ray.is_initialized():
            if address:
                _check_reachable(address)
            try:
                if address:
                    ray.init(address=address, **options)
                else:
                    ray.init(num_cpus=self.num_cpus or os.cpu_count() or 1, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"cannot reach the Ray cluster at {address or 'a new local cluster'}: {exc}") from None
            self._started = True
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # results come back in the order of the inputs
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        return self

    def __exit__(self, *_: object) -> None:
        if self._started:
            ray.shutdown()  # stops a local cluster; only disconnects from a joined one
            self._started = False

    @property
    def pool_size(self) -> int:
        """Actors of a stage that runs alone: one per 2 CPUs of the cluster (an encoder actor runs two threads)."""
        if self.actors:
            return self.actors
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(1, cpus // 2)

    @property
    def streamed_pool_size(self) -> int:
        """Actors of each of the two stages that run at once (extraction, encoding): half as many."""
        return self.actors or max(1, self.pool_size // 2)

    def extract(self, pages: Sequence[tuple[str, PageBytes]], settings: Settings, known: dict[str, str],
                cached: Mapping[str, frozenset[str]] | None = None) -> list[PageResult]:
        """Read and extract pages on the workers; pages whose bytes hash as in `known` (source → hash) are not
        extracted again. In the order of `pages`. The same actors split each article into passages at once, and
        the passages stream on to the encoder actors while later pages are still being extracted: `split` and
        `encode` then hand out what was already done. A page read again does not have the inputs in
        `cached[source]` encoded (their vectors are in the embedding cache); each page carries its own, so that no
        actor holds the whole cache's keys."""
        if not pages:
            return []
        cached = cached or {}
        rows = [{"n": n, "page": cloudpickle.dumps((source, page, known.get(source))), "cached": pickle.dumps(cached.get(source, frozenset()))}
                for n, (source, page) in enumerate(pages)]
        # Small blocks stream: the encoders start on the first pages' passages, and wait little after the last.
        dataset = ray.data.from_items(rows, override_num_blocks=-(-len(rows) // EXTRACT_BATCH))
        size = self.streamed_pool_size
        extracted_rows = dataset.map_batches(_ExtractStage, fn_constructor_args=(settings,), batch_size=EXTRACT_BATCH,
                                             compute=ActorPoolStrategy(size=size), num_cpus=STAGE_CPUS)
        results = extracted_rows.map_batches(_EncodeNewStage, fn_constructor_args=(settings,), batch_size=ENCODE_PAGES,
                                             compute=ActorPoolStrategy(size=size), num_cpus=STAGE_CPUS)
        extracted: list[PageResult] = []
        for row in sorted(results.take_all(), key=lambda row: row["n"]):
            result, pieces = pickle.loads(row["result"])
            if result.article is not None:
                self._split_already[result.article.id] = (_split_key(result.article), pieces)
            self._encoded.update(pickle.loads(row["vectors"]))
            extracted.append(result)
        return extracted

    def split(self, articles: Sequence[Article], settings: Settings) -> list[list[tuple[Passage, str]]]:
        """Each article's passages with their encoder inputs: as the extractor actors split them, or else split on
        a pool of actors holding the model's tokenizer. In the order of `articles`."""
        done = {n: ready[1] for n, article in enumerate(articles)
                if (ready := self._split_already.get(article.id)) is not None and ready[0] == _split_key(article)}
        rest = [n for n in range(len(articles)) if n not in done]
        if rest:
            for n, pieces in zip(rest, self._split_remotely([articles[n] for n in rest], settings)):
                done[n] = pieces
        return [done[n] for n in range(len(articles))]

    def _split_remotely(self, articles: Sequence[Article], settings: Settings) -> list[list[tuple[Passage, str]]]:
        rows = [{"n": n, "article": pickle.dumps(article)} for n, article in enumerate(articles)]
        dataset = ray.data.from_items(rows, override_num_blocks=min(len(rows), 4 * self.pool_size))
        results = dataset.map_batches(_SplitStage, fn_constructor_args=(settings,), batch_size=SPLIT_BATCH,
                                      compute=ActorPoolStrategy(size=self.pool_size))
        return [pickle.loads(row["passages"]) for row in sorted(results.take_all(), key=lambda row: row["n"])]

    def encode(self, texts: Sequence[str], settings: Settings, dimension: int) -> np.ndarray:
        """Vectors of texts, in order: those the pipeline of `extract` already encoded, the others on a pool of
        encoder actors (one model load each)."""
        vectors = np.zeros((len(texts), dimension), dtype=np.float32)
        rest = []
        for n, text in enumerate(texts):
            done = self._encoded.get(input_hash(text))
            if done is None:
                rest.append(n)
            else:
                vectors[n] = done
        if not rest:
            return vectors
        rows = [{"n": n, "text": texts[n]} for n in rest]
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows) // ENCODE_BATCH + 1, 8 * self.pool_size)))
        results = dataset.map_batches(_EncodeStage, fn_constructor_args=(settings,), batch_size=ENCODE_BATCH,
                                      batch_format="numpy", compute=ActorPoolStrategy(size=self.pool_size))
        for batch in results.iter_batches(batch_size=ENCODE_BATCH, batch_format="numpy"):
            vectors[batch["n"]] = batch["vector"]
        return vectors

    def nodes(self) -> int:
        return sum(1 for node in ray.nodes() if node.get("Alive"))


class _ExtractStage:
    """Extraction on a pool of actors rather than in tasks: each process that extracts pays Python's and the
    extractor's warm-up (imports, date patterns: about 1 s), so a few long-lived ones cost less than a task per
    block spread over every worker process (README "Running beyond one machine")."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.encoder = Encoder(settings.model, batch_size=settings.batch_size)  # its tokenizer: the weights load lazily

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        results = []
        for blob in batch["page"]:
            source, page, known_hash = cloudpickle.loads(blob)
            result = extract_page(source, page, self.settings, known_hash)
            pieces = article_passages(result.article, self.encoder, self.settings) if result.article is not None else []
            results.append(pickle.dumps((result, pieces)))
        return {"n": list(batch["n"]), "result": results, "cached": list(batch["cached"])}


def _split_key(article: Article) -> tuple[str, str]:
    """What an article's passages depend on: its text, and its title (the encoder's context)."""
    return (article.title, article.text)


class _SplitStage:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.encoder = Encoder(settings.model, batch_size=settings.batch_size)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        articles = [pickle.loads(blob) for blob in batch["article"]]
        return {"n": list(batch["n"]), "passages": [pickle.dumps(article_passages(a, self.encoder, self.settings)) for a in articles]}


class _EncodeNewStage:
    """The encoder after extraction: the new passages of a batch of pages in one call (sorted by length there),
    but for those each page's `cached` names."""

    def __init__(self, settings: Settings) -> None:
        self.encoder = _loaded_encoder(settings)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        pages = [[(input_hash(text), text) for _, text in pickle.loads(blob)[1]] for blob in batch["result"]]
        skips = [pickle.loads(blob) for blob in batch["cached"]]
        inputs = {key: text for page, skip in zip(pages, skips) for key, text in page if key not in skip}
        keys = list(inputs)
        by_key = dict(zip(keys, self.encoder.encode([inputs[key] for key in keys]))) if keys else {}
        found = [pickle.dumps({key: by_key[key] for key, _ in page if key in by_key}) for page in pages]
        return {"n": list(batch["n"]), "result": list(batch["result"]), "vectors": found}


class _EncodeStage:
    def __init__(self, settings: Settings) -> None:
        self.encoder = _loaded_encoder(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"n": batch["n"], "vector": self.encoder.encode([str(text) for text in batch["text"]])}


def _loaded_encoder(settings: Settings) -> Encoder:
    """The encoder with its model loaded and run once, as the actor starts: the load then overlaps the first
    pages' extraction instead of delaying their passages (bench/ray_build.py, first build on a new cluster
    0.74-0.75 -> 0.76-0.79 of one process's throughput)."""
    encoder = Encoder(settings.model, batch_size=settings.batch_size)
    encoder.encode(["warm-up"])
    return encoder


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Ray retries an unreachable address for minutes: a plain connection to it first fails in seconds."""
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}): start it (`ray start --head`) or fix the address") from None
