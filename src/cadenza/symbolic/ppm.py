"""Variable-order Markov models with PPM-C blending (interpolated smoothing and back-off).

Prediction by Partial Matching (Cleary & Witten 1984), escape method C (Moffat 1990), blended as in
Pearce & Wiggins 2004 ("Improved methods for statistical modelling of monophonic music", JNMR 33(4)):

    p_k(x | c) = count(c, x) / (n(c) + u(c)) + u(c) / (n(c) + u(c)) * p_{k-1}(x | c')

where n(c) is how often context c of length k was seen, u(c) how many distinct symbols followed it, c' is c
without its oldest symbol, and p_{-1} is uniform over the domain plus the end symbol. Every symbol of the
domain keeps a non-zero probability, so an unseen note never raises an error. Sequences are padded with a
start symbol (contexts at the start of a piece are their own states) and closed with an end symbol.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

START = -1  # padding before the first symbol


class PPM:
    """PPM-C model over symbols 0..domain-1 plus the end symbol `domain`, contexts up to `order` symbols."""

    def __init__(self, domain: int, order: int) -> None:
        if order < 0:
            raise ValueError(f"order must be >= 0, got {order}")
        self.domain, self.order = domain, order
        self.end = domain
        # tables[k]: context of length k (a tuple) -> {next symbol: count}
        self.tables: list[dict[tuple[int, ...], dict[int, int]]] = [{} for _ in range(order + 1)]

    def update(self, seq: Sequence[int]) -> None:
        """Count one sequence (its end symbol included)."""
        padded = [START] * self.order + list(seq) + [self.end]
        for i in range(self.order, len(padded)):
            sym = padded[i]
            for k in range(self.order + 1):
                ctx = tuple(padded[i - k : i])
                row = self.tables[k].setdefault(ctx, {})
                row[sym] = row.get(sym, 0) + 1

    def fit(self, sequences: Iterable[Sequence[int]]) -> PPM:
        for s in sequences:
            self.update(s)
        return self

    def distribution(self, history: Sequence[int]) -> np.ndarray:
        """Probabilities of the next symbol [domain + 1] (the last entry is the end) after `history`."""
        p = np.full(self.domain + 1, 1.0 / (self.domain + 1))
        padded = [START] * self.order + list(history[-self.order :] if self.order else [])
        for k in range(self.order + 1):
            row = self.tables[k].get(tuple(padded[len(padded) - k :]) if k else ())
            if row is None:
                break  # a longer context cannot have been seen if this one was not
            n, u = sum(row.values()), len(row)
            escape = u / (n + u)
            p *= escape
            idx = np.fromiter(row.keys(), dtype=np.int64, count=u)
            p[idx] += np.fromiter(row.values(), dtype=np.float64, count=u) / (n + u)
        return p

    def n_contexts(self) -> int:
        return sum(len(t) for t in self.tables)

    # ------------------------------------------------------------------------------------------ storage

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "order": self.order,
            "tables": [{",".join(map(str, ctx)): row for ctx, row in table.items()} for table in self.tables],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PPM:
        m = cls(int(d["domain"]), int(d["order"]))
        for k, table in enumerate(d["tables"]):
            m.tables[k] = {
                (tuple(int(x) for x in ctx.split(",")) if ctx else ()): {int(s): int(c) for s, c in row.items()}
                for ctx, row in table.items()
            }
        return m


def save_json_gz(data: dict[str, Any], path: str | Path) -> None:
    """Write JSON compressed with gzip, atomically."""
    from cadenza.io.files import write_bytes_atomic

    write_bytes_atomic(path, gzip.compress(json.dumps(data, separators=(",", ":")).encode(), compresslevel=5))


def load_json_gz(path: str | Path) -> dict[str, Any]:
    from cadenza.errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such model file")
    try:
        with gzip.open(p, "rt", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError, EOFError) as e:
        raise InputError(p, f"not a cadenza model file ({type(e).__name__})") from None
