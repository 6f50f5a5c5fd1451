"""Replays Index.search offline on a dump from study.py: candidate pools, a fusion, the per-article cap, and
the rank of the first passage holding a gold phrase. Used to compare fusions before wiring one in."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from healthqa.fusion import Candidate  # noqa: E402

Fusion = Callable[[list[Candidate], str], dict[int, float]]


def replay(data, fusion: Fusion | str, *, pool: int = 40, cap: int = 4, depth: int = 10, rows=None,
           full_lexical: bool = False) -> list[int | None]:
    cos, bm25, relevant, article, language, qlang = (data[k] for k in ("cos", "bm25", "relevant", "article", "language", "qlang"))
    ranks: list[int | None] = []
    for q in (range(cos.shape[0]) if rows is None else rows):
        c, b = cos[q], bm25[q]
        dense = np.argsort(-c, kind="stable")[:pool]
        nonzero = int(np.count_nonzero(b))
        lexical = np.argsort(-b, kind="stable")[: min(pool, nonzero)]
        if fusion == "dense":
            order = dense.tolist()
        elif fusion == "lexical":
            order = lexical.tolist()
        else:
            dense_rank = {int(i): r for r, i in enumerate(dense, 1)}
            lexical_rank = {int(i): r for r, i in enumerate(lexical, 1)}
            ids = list(dict.fromkeys([*dense_rank, *lexical_rank]))
            candidates = [
                Candidate(i, float(c[i]), float(b[i]) if (full_lexical or i in lexical_rank) else 0.0, str(language[i]),
                          dense_rank.get(i), lexical_rank.get(i))
                for i in ids
            ]
            scores = fusion(candidates, str(qlang[q]))
            order = sorted(scores, key=lambda i: scores[i], reverse=True)
        chosen, per = [], {}
        for i in order:
            a = article[i]
            if per.get(a, 0) < cap:
                per[a] = per.get(a, 0) + 1
                chosen.append(i)
                if len(chosen) == depth:
                    break
        rank = next((r for r, i in enumerate(chosen, 1) if relevant[q, i]), None)
        ranks.append(rank)
    return ranks


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    out = {f"R@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in (1, 5, 10)}
    out["MRR"] = sum(1 / r for r in ranks if r is not None) / n
    return out


def row(name: str, ranks: list[int | None]) -> str:
    m = metrics(ranks)
    return f"{name:40} " + " ".join(f"{k} {v:.3f}" for k, v in m.items())
