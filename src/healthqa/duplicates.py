"""The same story published twice (a wire story on two sites, a page saved twice): trafilatura's 64-bit
simhash of the text, compared by Hamming distance. Same-topic articles by different authors differ in about
half of the bits; a syndicated copy with a changed intro or byline in a few."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from .extract import simhash

# Bits out of 64 that may differ for two texts to count as the same story (similarity ≥ 0.92).
MAX_DIFFERENT_BITS = 5
_SIGN = 1 << 63


def text_simhash(text: str) -> int:
    """The simhash as a signed 64-bit integer, as SQLite stores it."""
    value = simhash(text)
    return value - (1 << 64) if value & _SIGN else value


class NearDuplicates:
    """Finds, among known texts, one that tells the same story; vectorised, so a million known texts is fine."""

    def __init__(self, keys: Sequence[str] = (), hashes: Sequence[int] = ()) -> None:
        self._keys = list(keys)
        self._hashes = np.asarray(hashes, dtype=np.int64).view(np.uint64)

    def find(self, simhash: int, exclude: Collection[str] = ()) -> str | None:
        """The key of the closest known text within MAX_DIFFERENT_BITS, ignoring the keys in `exclude`."""
        if not self._keys:
            return None
        differing = np.bitwise_xor(self._hashes, np.uint64(simhash & (_SIGN * 2 - 1)))
        bits = np.unpackbits(differing.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        if exclude:
            bits[[i for i, key in enumerate(self._keys) if key in exclude]] = 64
        best = int(np.argmin(bits))
        return self._keys[best] if bits[best] <= MAX_DIFFERENT_BITS else None

    def add(self, key: str, simhash: int) -> None:
        self._keys.append(key)
        self._hashes = np.append(self._hashes, np.array([simhash], dtype=np.int64).view(np.uint64))
