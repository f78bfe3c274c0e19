"""The parse cache: every source file parsed once, stored as compact gzipped JSON.

music21 needs about a minute for the 371 chorales; from this cache they load in well under 3 s. An
entry is keyed by the file's absolute path, size and modification time and by `FORMAT_VERSION`, so an
edited file or a change of the reader invalidates it. Unreadable files are cached too (as their error),
so a junk file in a folder costs one attempt, not one per load.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from cadenza.core.score import ChordSymbol, Key, Note, Part, Score, TimeSignature
from cadenza.errors import CadenzaError
from cadenza.io.files import write_bytes_atomic

FORMAT_VERSION = 3

# A parsed file: its scores and the pieces inside it that failed (source, reason); or the file's error.
Parsed = tuple[list[Score], list[tuple[str, str]]] | str


def score_to_dict(score: Score) -> dict[str, Any]:
    """A JSON-ready dict; notes as [pitch, onset, duration, velocity, fermata] rows."""
    return {
        "title": score.title,
        "source": score.source,
        "key": [score.key.tonic, score.key.mode] if score.key else None,
        "meter": [score.time_signature.numerator, score.time_signature.denominator],
        "tempo": score.tempo_bpm,
        "pickup": score.pickup,
        "chords": [[c.onset, c.figure] for c in score.chords],
        "parts": [
            {
                "name": p.name,
                "program": p.program,
                "drum": p.is_drum,
                "notes": [[n.pitch, n.onset, n.duration, n.velocity, int(n.fermata)] for n in p.notes],
            }
            for p in score.parts
        ],
    }


def score_from_dict(d: dict[str, Any]) -> Score:
    parts = tuple(
        Part(
            tuple(Note(r[0], r[1], r[2], r[3], bool(r[4])) for r in p["notes"]),
            name=p["name"],
            program=p["program"],
            is_drum=p["drum"],
        )
        for p in d["parts"]
    )
    return Score(
        parts,
        key=Key(d["key"][0], d["key"][1]) if d["key"] else None,
        time_signature=TimeSignature(*d["meter"]),
        tempo_bpm=d["tempo"],
        pickup=d["pickup"],
        chords=tuple(ChordSymbol(o, f) for o, f in d["chords"]),
        title=d["title"],
        source=d["source"],
    )


class ParseCache:
    """A folder of gzipped JSON entries, one per parsed source file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _entry(self, path: Path) -> Path:
        st = path.stat()
        key = f"{FORMAT_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        return self.root / (hashlib.sha1(key.encode()).hexdigest() + ".json.gz")

    def get(self, path: Path) -> Parsed | None:
        """The cached result, or None when not cached."""
        entry = self._entry(path)
        if not entry.exists():
            return None
        try:
            with gzip.open(entry, "rt", encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None  # a damaged entry is parsed again
        if "error" in data:
            return str(data["error"])
        return [score_from_dict(d) for d in data["scores"]], [tuple(f) for f in data["failed"]]

    def put(self, path: Path, result: Parsed) -> None:
        if isinstance(result, str):
            data: dict[str, Any] = {"error": result}
        else:
            data = {"scores": [score_to_dict(s) for s in result[0]], "failed": result[1]}
        payload = gzip.compress(json.dumps(data, separators=(",", ":")).encode(), compresslevel=3)
        write_bytes_atomic(self._entry(path), payload)


def _parse_one(path: Path) -> Parsed:
    from cadenza.io import read
    from cadenza.io.abc import read_abc_report

    try:
        if path.suffix.lower() == ".abc":
            return read_abc_report(path)
        return read(path), []
    except CadenzaError as e:
        return str(e).split(": ", 1)[-1]
    except Exception as e:  # a reader bug on one odd file must not sink a corpus of thousands
        return f"unreadable ({type(e).__name__}: {str(e)[:100]})"


def parse_files(
    files: list[Path], cache: ParseCache, *, progress: bool = True, workers: int | None = None
) -> dict[Path, Parsed]:
    """Parse `files` (distinct ones once), in parallel for those not cached yet.

    Returns:
        path -> (scores, failed pieces), or path -> the error message for a file that cannot be read.
    """
    results: dict[Path, Parsed] = {}
    todo: list[Path] = []
    for f in dict.fromkeys(files):
        hit = cache.get(f)
        if hit is None:
            todo.append(f)
        else:
            results[f] = hit
    if not todo:
        return results
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    bar = tqdm(total=len(todo), desc="parsing", unit="file", disable=not progress)
    # Largest files first keeps both workers busy until the end.
    todo.sort(key=lambda p: -p.stat().st_size)
    if n_workers == 1:
        for f in todo:
            results[f] = _parse_one(f)
            cache.put(f, results[f])
            bar.update()
    else:
        with ProcessPoolExecutor(n_workers) as pool:
            for f, result in zip(todo, pool.map(_parse_one, todo)):
                results[f] = result
                cache.put(f, result)
                bar.update()
    bar.close()
    return results
