"""Is generated ABC valid? Two parsers and a bar check, per tune.

- music21's ABC reader parses it, with at least one note;
- `abc2midi` (the abcMIDI package, a real ABC tool) converts it without an error (warnings allowed);
- bars: every full bar lasts what its meter says. The first and last bars may be short (pickup, ending);
  two short bars side by side that add up to one bar (a section's ending and the next section's pickup
  around a `||` or `:|`) count as correct.

    >>> report = validate_tunes(["X:1\\nM:2/4\\nL:1/8\\nK:D\\nDEFG|A2A2|\\n"])
    >>> report["valid_music21"], report["valid_abc2midi"], report["bars_correct"]
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from cadenza.errors import InputError


def _parse(text: str) -> Any:
    """music21's parse, its warnings about odd notes kept off the terminal."""
    import contextlib
    import io

    from music21 import converter

    with contextlib.redirect_stderr(io.StringIO()):
        score = converter.parse(text, format="abc", forceSource=True)
    if hasattr(score, "scores"):  # an Opus: several tunes in the text, the first one is checked
        score = score.scores[0] if score.scores else score
    return score


def music21_ok(text: str) -> tuple[bool, str]:
    """(parses with at least one note, the first line of the error)."""
    try:
        score = _parse(text)
    except Exception as e:  # music21 raises many kinds on bad ABC
        return False, (str(e).splitlines() or [type(e).__name__])[0][:200]
    if not score.flatten().notes:
        return False, "no notes"
    return True, ""


def abc2midi_ok(text: str) -> tuple[bool, str]:
    """(abc2midi converts it without an error line and writes a MIDI file, the first error)."""
    exe = shutil.which("abc2midi")
    if exe is None:
        raise InputError("abc2midi", "is not installed (Debian package abcmidi; `make install` installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "tune.abc", Path(tmp) / "tune.mid"
        src.write_text(text)
        try:
            run = subprocess.run([exe, str(src), "-o", str(out)], capture_output=True, timeout=20)
        except subprocess.TimeoutExpired:
            return False, "abc2midi timed out"
        log = (run.stdout + run.stderr).decode("utf-8", errors="replace")
        errors = [ln for ln in log.splitlines() if ln.startswith("Error")]
        if run.returncode != 0 or errors or not out.exists():
            return False, (errors or [f"exit code {run.returncode}"])[0][:200]
    return True, ""


def bar_check(text: str) -> tuple[int, int]:
    """(full bars with the right duration, full bars) of the first voice; (0, 0) without a meter."""
    try:
        score = _parse(text)
    except Exception:
        return 0, 0
    parts = list(score.parts) or [score]
    measures = list(parts[0].getElementsByClass("Measure"))
    if len(measures) < 3:
        return 0, 0
    durs, bars = [], []
    for m in measures:
        ts = m.timeSignature or m.getContextByClass("TimeSignature")
        if ts is None:
            return 0, 0
        durs.append(Fraction(m.duration.quarterLength).limit_denominator(96))
        bars.append(Fraction(ts.barDuration.quarterLength).limit_denominator(96))
    inner = range(1, len(measures) - 1)
    good = 0
    for i in inner:
        if (
            durs[i] == bars[i]
            or durs[i] < bars[i]
            and any(0 <= j < len(durs) and durs[j] < bars[j] and durs[i] + durs[j] == bars[i] for j in (i - 1, i + 1))
        ):
            good += 1
    return good, len(inner)


def validate_tune(text: str) -> dict[str, Any]:
    m21, m21_err = music21_ok(text)
    a2m, a2m_err = abc2midi_ok(text)
    good, total = bar_check(text) if m21 else (0, 0)
    return {"music21": m21, "music21_error": m21_err, "abc2midi": a2m, "abc2midi_error": a2m_err,
            "bars_good": good, "bars": total}  # fmt: skip


def validate_tunes(texts: Sequence[str], *, progress: bool = False) -> dict[str, Any]:
    """Per-tune results and the shares: valid_music21, valid_abc2midi, valid (both), bars_correct (of all full
    bars of all tunes)."""
    from tqdm import tqdm

    results = [validate_tune(t) for t in tqdm(texts, desc="validate", unit="tune", disable=not progress)]
    n = max(len(results), 1)
    bars = sum(r["bars"] for r in results)
    return {
        "tunes": len(results),
        "valid_music21": sum(r["music21"] for r in results) / n,
        "valid_abc2midi": sum(r["abc2midi"] for r in results) / n,
        "valid": sum(r["music21"] and r["abc2midi"] for r in results) / n,
        "bars_correct": sum(r["bars_good"] for r in results) / bars if bars else 0.0,
        "bars": bars,
        "results": results,
    }
