"""Drawn control curves: CSV files of `time_s,value,...` rows, as NoiseBandNet and the Sound Model Factory read them:
`read_curve_csv` checks the rows (naming the file and the line), `resample_curve` puts them on a model's frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cadenza.errors import InputError


def read_curve_csv(path: str | Path, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The rows of a curve CSV: a header line is allowed, blank lines are skipped, every other line holds one
    finite number per column, the first column is the time in seconds (from 0 or later, increasing).

    Returns:
        (times [n], values [n, columns - 1], the file's line number of each row).

    Raises:
        InputError: no such file, a line that is not `columns` numbers (NaN and infinity included), fewer than two
            rows, or times that do not start at 0 or later and increase.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    rows, lines = [], []
    for i, line in enumerate(p.read_text().splitlines(), 1):
        cells = [c.strip() for c in line.split(",")]
        if not line.strip() or (i == 1 and not _is_float(cells[0])):
            continue
        if len(cells) != len(columns) or not all(_is_float(c) for c in cells):
            raise InputError(p, f"line {i}: expected {','.join(columns)} (numbers)")
        nums = [float(c) for c in cells]
        if not all(math.isfinite(v) for v in nums):
            raise InputError(p, f"line {i}: NaN or infinite value")
        rows.append(nums)
        lines.append(i)
    if len(rows) < 2:
        raise InputError(p, f"needs at least two rows of {','.join(columns)}")
    arr = np.array(rows)
    if arr[0, 0] < 0 or np.any(np.diff(arr[:, 0]) <= 0):
        raise InputError(p, "times must start at 0 or later and increase")
    return arr[:, 0], arr[:, 1:], lines


def resample_curve(times: np.ndarray, values: np.ndarray, frame_rate: int) -> np.ndarray:
    """Values [n, k] at `times` -> [frames, k] at `frame_rate` a second from 0 to the last time (linear)."""
    t = np.arange(0, times[-1], 1 / frame_rate)
    return np.stack([np.interp(t, times, values[:, j]) for j in range(values.shape[1])], -1).astype(np.float32)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True
