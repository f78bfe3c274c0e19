"""Named corpora and user folders as lists of Scores, with deterministic splits and a parse cache.

    >>> from cadenza.corpus import load_corpus
    >>> bach = load_corpus("bach")            # 371 chorales; ~1 min cold, < 3 s warm
    >>> train = bach.split("train")

Names: `bach`, `essen` (or a sub-collection such as `essen/erk`), `oneills`, `ryans`, `airds`, `jsb`, `pop909`,
or the path of a folder of MIDI / MusicXML / ABC / kern files.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadenza.errors import InputError, UnknownNameError
from cadenza.io.files import write_text_atomic

if TYPE_CHECKING:  # the parsing machinery loads with the first corpus: `cadenza corpus list` needs none of it
    from cadenza.core.score import Score

SPLITS = ("train", "valid", "test")


@dataclass
class Corpus:
    """A loaded corpus: its scores, the split each belongs to, and the files that could not be read."""

    name: str
    scores: list[Score]
    split_of: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file or "file#tune", reason)

    def __len__(self) -> int:
        return len(self.scores)

    def split(self, name: str) -> list[Score]:
        """The scores of one split ("train", "valid" or "test")."""
        if name not in SPLITS:
            raise UnknownNameError("split", name, list(SPLITS))
        return [s for s, sp in zip(self.scores, self.split_of) if sp == name]


def split_for(piece_id: str) -> str:
    """Deterministic 80/10/10 split from a hash of the piece's id (stable across machines and versions)."""
    bucket = int(hashlib.sha1(piece_id.encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < 80 else "valid" if bucket < 90 else "test"


@lru_cache(maxsize=1)
def music21_corpus_dir() -> Path:
    """music21's corpus folder, found without importing music21 (which takes ~1 s)."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("music21", "music21 is not installed (run `make install`)")
    return Path(list(spec.submodule_search_locations)[0]) / "corpus"


def _bach_files() -> list[Path]:
    """The 371 chorales in Riemenschneider order (several numbers share one file: 350 distinct files).

    The list comes from music21's chorale index; it is cached so that a warm load never imports music21.
    """
    listing = cache_dir() / f"bach-files-{importlib.metadata.version('music21')}.json"
    if listing.exists():
        return [music21_corpus_dir() / f for f in json.loads(listing.read_text())]
    from music21.corpus import chorales, getWork

    files = []
    for name in chorales.Iterator(returnType="filename"):
        found = getWork(name)
        options = [Path(str(f)) for f in (found if isinstance(found, list) else [found])]
        files.append(next((f for f in options if f.suffix == ".mxl"), options[0]))  # MusicXML has the fermatas
    write_text_atomic(listing, json.dumps([str(f.relative_to(music21_corpus_dir())) for f in files]))
    return files


def _essen_files(sub: str) -> list[Path]:
    folder = music21_corpus_dir() / "essenFolksong"
    files = sorted(folder.glob("*.abc"))
    if sub:
        files = [f for f in files if f.stem.rstrip("0123456789") == sub]
        if not files:
            subs = sorted({f.stem.rstrip("0123456789") for f in folder.glob("*.abc")})
            raise UnknownNameError("corpus", f"essen/{sub}", [f"essen/{s}" for s in subs])
    return files


def _folder_files(name: str) -> Callable[[], list[Path]]:
    return lambda: sorted((music21_corpus_dir() / name).glob("*.abc"))


NAMED: dict[str, tuple[str, Callable[[], list[Path]] | None]] = {
    "bach": ("music21's 371 Bach chorales (SATB, key, meter, fermatas)", _bach_files),
    "essen": ("Essen folk song collection, 8,514 ABC tunes (sub-collections: essen/erk, essen/han, ...)", None),
    "oneills": ("O'Neill's Music of Ireland (1850), ABC", _folder_files("oneills1850")),
    "ryans": ("Ryan's Mammoth Collection (1883), ABC", _folder_files("ryansMammoth")),
    "airds": ("Aird's Airs (1782-1803), ABC", _folder_files("airdsAirs")),
    "jsb": ("JSB Chorales benchmark, 16th-note SATB grid, split 229/76/77 (Boulanger-Lewandowski 2012)", None),
    "pop909": ("POP909 lead sheets: 735 pop melodies with hand-checked chord symbols per beat (Wang 2020)", None),
}


def list_corpora() -> dict[str, str]:
    """Name -> one-line description of every named corpus."""
    return {name: desc for name, (desc, _) in NAMED.items()}


def cache_dir() -> Path:
    return Path(os.environ.get("CADENZA_CACHE", Path.home() / ".cache" / "cadenza"))


def _corpus_files(name: str) -> tuple[list[Path], Path]:
    """The source files of a named corpus or folder, in corpus order, and the folder they are relative to."""
    if name.split("/", 1)[0] == "essen":  # "essen" or a sub-collection "essen/erk"
        return _essen_files(name.split("/", 1)[1] if "/" in name else ""), music21_corpus_dir()
    if name in NAMED:
        lister = NAMED[name][1]
        assert lister is not None
        return lister(), music21_corpus_dir()
    if Path(name).is_dir():
        files = _user_files(Path(name))
        if not files:
            raise InputError(name, "folder has no MIDI, MusicXML, ABC or kern files")
        return files, Path(name)
    if Path(name).exists():
        raise InputError(name, "not a folder (a corpus is a name or a folder of music files)")
    raise UnknownNameError("corpus", name, [*NAMED, "essen/<sub>", "<folder>"])


def _collect(name: str, files: list[Path], parsed: dict[Path, Any], root: Path) -> Corpus:
    scores: list[Score] = []
    skipped: list[tuple[str, str]] = []
    for f in files:
        result = parsed[f]
        if isinstance(result, str):
            skipped.append((str(f), result))
            continue
        for s in result[0]:
            scores.append(s.replace(source=_relative(s.source, root)))
        skipped += result[1]
    return Corpus(name, scores, [split_for(s.source) for s in scores], skipped)


def load_corpus(name: str, *, limit: int | None = None, progress: bool = True, workers: int | None = None) -> Corpus:
    """Load a named corpus or a folder of files.

    Args:
        name: a name from `list_corpora()`, `essen/<sub>`, or a folder path.
        limit: keep only the first `limit` source files (fast tests and demos).
        progress: show a progress bar while parsing files that are not cached yet.
        workers: parallel parse processes (default: the number of CPUs).

    Raises:
        UnknownNameError: neither a known name nor an existing folder.
        InputError: a folder with no readable music file.
    """
    if name == "jsb":
        return load_jsb()
    if name == "pop909":
        return load_pop909()
    files, root = _corpus_files(name)
    if limit is not None:
        files = files[:limit]
    from cadenza.corpus.cache import ParseCache, parse_files

    parsed = parse_files(files, ParseCache(cache_dir() / "parsed"), progress=progress, workers=workers)
    corpus = _collect(name, files, parsed, root)
    if not corpus.scores and corpus.skipped:
        first = corpus.skipped[0]
        raise InputError(name, f"no readable music in {len(corpus.skipped)} files (first: {first[0]}: {first[1]})")
    return corpus


def corpus_piece(name: str, index: int, *, split: str | None = None, progress: bool = True) -> Score:
    """Piece `index` of a corpus (its place in `load_corpus(name).scores`, or in `.split(split)` when a split is
    given), parsing only the files up to the one that holds it (in parallel batches; cached files cost nothing),
    not the whole corpus.

    Raises:
        InputError: the corpus (or the split) has fewer pieces.
    """
    if split is not None and split not in SPLITS:
        raise UnknownNameError("split", split, list(SPLITS))
    what = f"{name} ({split} split)" if split else name
    if index < 0:
        raise InputError(what, "--piece must be 0 or more")
    if name in ("jsb", "pop909"):
        jsb = load_jsb() if name == "jsb" else load_pop909()
        scores = jsb.split(split) if split else jsb.scores
        if index >= len(scores):
            raise InputError(what, f"has {len(scores)} pieces; --piece must be 0..{len(scores) - 1}")
        return scores[index]
    files, root = _corpus_files(name)
    from cadenza.corpus.cache import ParseCache, parse_files

    cache = ParseCache(cache_dir() / "parsed")
    batch = max(1, os.cpu_count() or 1)
    seen = 0
    for start in range(0, len(files), batch):
        chunk = files[start : start + batch]
        part = _collect(name, chunk, parse_files(chunk, cache, progress=progress), root)
        scores = part.split(split) if split else part.scores
        if index < seen + len(scores):
            return scores[index - seen]
        seen += len(scores)
    raise InputError(what, f"has {seen} pieces; --piece must be 0..{seen - 1}")


def corpus_stats(corpus: Corpus) -> dict[str, Any]:
    """Summary figures of a loaded corpus (what `cadenza corpus stats` prints)."""
    from collections import Counter

    scores = corpus.scores
    keys = Counter(s.key.name if s.key else "unknown" for s in scores)
    meters = Counter(str(s.time_signature) for s in scores)
    pitches = [n.pitch for s in scores for p in s.parts if not p.is_drum for n in p.notes]
    pcs = [0] * 12
    for pitch in pitches:
        pcs[pitch % 12] += 1
    return {
        "corpus": corpus.name,
        "pieces": len(scores),
        "notes": len(pitches),
        "splits": {sp: corpus.split_of.count(sp) for sp in SPLITS},
        "keys": dict(keys.most_common()),
        "meters": dict(meters.most_common()),
        "lowest_pitch": min(pitches) if pitches else None,
        "highest_pitch": max(pitches) if pitches else None,
        "duration_quarters": round(sum(s.end for s in scores), 2),
        "duration_hours": round(sum(s.duration_s for s in scores) / 3600, 3),
        "pitch_class_histogram": pcs,
        "skipped_count": len(corpus.skipped),
        "skipped": [{"file": f, "reason": r} for f, r in corpus.skipped],
    }


def _relative(source: str, root: Path) -> str:
    try:
        return str(Path(source).relative_to(root))
    except ValueError:
        return source


def _user_files(root: Path) -> list[Path]:
    from cadenza.io import READ_SUFFIXES

    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in READ_SUFFIXES)


# ------------------------------------------------------------------------------------------------ jsb


def jsb_raw() -> dict[str, list[list[list[int]]]]:
    """The benchmark grids as shipped: split -> pieces -> steps -> [s, a, t, b] MIDI pitches (-1 = silent)."""
    path = resources.files("cadenza.corpus") / "data" / "jsb16th_separated.json.gz"
    with resources.as_file(path) as p, gzip.open(p, "rt") as f:
        return json.load(f)


def load_jsb() -> Corpus:
    """The JSB Chorales benchmark split (229 / 76 / 77) as Scores (4/4 assumed, keys estimated)."""
    from cadenza.encodings.satb_grid import grid_to_score
    from cadenza.evaluate.key import estimate_key

    raw = jsb_raw()
    scores, splits = [], []
    for split in SPLITS:
        for i, grid in enumerate(raw[split]):
            s = grid_to_score(grid, title=f"jsb {split} {i}", source=f"jsb/{split}/{i}")
            scores.append(s.replace(key=estimate_key(s)))
            splits.append(split)
    return Corpus("jsb", scores, splits)


# ------------------------------------------------------------------------------------------------ pop909


def load_pop909() -> Corpus:
    """POP909's lead sheets as Scores: the sung melody, its chord symbols ("A:min7", per POP909) and key, in 4/4
    (see data/SOURCE.md); split 80/10/10 by song id."""
    from cadenza.core.score import ChordSymbol, Key, Note, Part, Score, TimeSignature

    path = resources.files("cadenza.corpus") / "data" / "pop909_leadsheets.json.gz"
    with resources.as_file(path) as p, gzip.open(p, "rt") as f:
        raw = json.load(f)
    step = 1.0 / raw["steps_per_beat"]
    scores = []
    for song in raw["songs"]:
        n = song["notes"]
        notes = tuple(Note(n[i + 2], n[i] * step, n[i + 1] * step) for i in range(0, len(n), 3))
        chords = tuple(ChordSymbol(float(on), label) for on, _, label in song["chords"])
        scores.append(Score((Part(notes, name="melody", program=0),), key=Key.parse(song["key"]),
                            time_signature=TimeSignature(4, 4), chords=chords, title=f"POP909 {song['id']}",
                            source=f"pop909/{song['id']}"))  # fmt: skip
    return Corpus("pop909", scores, [split_for(s.source) for s in scores])


__all__ = [
    "Corpus",
    "SPLITS",
    "corpus_piece",
    "corpus_stats",
    "jsb_raw",
    "list_corpora",
    "load_corpus",
    "load_jsb",
    "load_pop909",
    "split_for",
]
