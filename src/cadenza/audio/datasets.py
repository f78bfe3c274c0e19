"""Audio datasets built here from the corpora, nothing downloaded: corpus pieces rendered through FluidSynth.

`render_dataset` plays pieces of a corpus with one General MIDI instrument, varying tempo, velocity and
transposition within musical ranges, and writes a folder:

    DIR/train/essen-00042.wav ...          mono, `sample_rate`, dry (FluidSynth's reverb and chorus off)
    DIR/valid/...  DIR/test/...            splits follow the corpus's split of the source piece
    DIR/manifest.jsonl                     one JSON object per clip (see `ClipInfo`)

The folder is built under a temporary name and renamed when complete, so a killed run leaves nothing
half-written. Every clip has a caption in plain words ("a slow violin melody in D minor, 3/4") for the
text-conditioned models.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from cadenza.core.audio import AudioClip
from cadenza.core.score import Note, Score
from cadenza.errors import CadenzaError, InputError
from cadenza.io.audio import read_audio, write_audio
from cadenza.io.files import atomic_folder

MANIFEST = "manifest.jsonl"

# Comfortable written ranges (MIDI pitch) of common GM instruments; others get a generic range.
INSTRUMENT_RANGES = {
    0: (21, 108), 24: (40, 84), 32: (28, 67), 40: (55, 100), 41: (48, 88), 42: (36, 76), 43: (28, 67),
    56: (55, 82), 57: (40, 72), 60: (34, 77), 64: (56, 87), 65: (49, 80), 66: (44, 75), 68: (58, 91),
    70: (34, 72), 71: (50, 91), 72: (74, 102), 73: (60, 96), 74: (60, 96), 75: (60, 96),
}  # fmt: skip
DEFAULT_RANGE = (36, 96)


@dataclass(frozen=True)
class ClipInfo:
    """One line of a dataset's manifest."""

    file: str  # relative to the dataset folder
    split: str
    source: str  # the corpus piece it was rendered from
    piece: int  # index of the piece in the corpus
    program: int
    instrument: str
    key: str
    meter: str
    tempo_bpm: float
    transpose: int
    velocity: int
    duration_s: float
    sample_rate: int
    caption: str
    n_parts: int = 1
    mean_pitch: float = 0.0  # MIDI, over the notes as rendered
    soundfont: str = ""  # the SoundFont's file name


def tempo_word(bpm: float) -> str:
    """Plain words for a tempo in quarter notes per minute."""
    return "slow" if bpm < 76 else "moderate" if bpm < 108 else "lively" if bpm < 140 else "fast"


def caption_for(score: Score, instrument: str, bpm: float) -> str:
    """ "a slow violin melody in D minor, 3/4" from a score's parts, key, meter and tempo."""
    what = "melody" if len(score.parts) == 1 else f"{_count_word(len(score.parts))}-part piece"
    key = f" in {score.key.name}" if score.key else ""
    return f"a {tempo_word(bpm)} {instrument.lower()} {what}{key}, {score.time_signature}"


def _count_word(n: int) -> str:
    return {2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


def fit_transposition(low: int, high: int, program: int, rng: np.random.Generator, spread: int = 5) -> int | None:
    """A random transposition in -spread..spread that keeps [low, high] inside the instrument's range, moved by
    octaves if needed; None if the piece is wider than the range."""
    lo, hi = INSTRUMENT_RANGES.get(program, DEFAULT_RANGE)
    if high - low > hi - lo:
        return None
    options = [t for t in range(-spread - 24, spread + 25) if lo <= low + t and high + t <= hi]
    near = [t for t in options if abs(t) <= spread]
    if near:
        return int(rng.choice(near))
    return int(min(options, key=abs))


def vary_velocity(score: Score, velocity: int, rng: np.random.Generator, jitter: int = 8) -> Score:
    """Every note at `velocity`, +-`jitter` at random, with downbeats a little louder (a human-ish accent)."""
    parts = []
    for part in score.parts:
        notes = []
        for n in part.notes:
            accent = 6 if score.beat_strength(n.onset) >= 1.0 else 0
            v = int(np.clip(velocity + accent + rng.integers(-jitter, jitter + 1), 1, 127))
            notes.append(Note(n.pitch, n.onset, n.duration, v, n.fermata))
        parts.append(part.__class__(tuple(notes), part.name, part.program, part.is_drum))
    return score.replace(parts=tuple(parts))


def render_dataset(
    corpus: str | list[str],
    program: str | int | list[str | int],
    out_dir: str | Path,
    *,
    minutes: float = 10.0,
    sample_rate: int = 16000,
    tempo_range: tuple[float, float] = (0.8, 1.25),
    bpm_range: tuple[float, float] | None = None,
    velocity_range: tuple[int, int] = (55, 110),
    max_piece_s: float = 60.0,
    seed: int = 0,
    soundfont: str | Path | list[str | Path] | None = None,
    progress: bool = True,
) -> list[ClipInfo]:
    """Render pieces of `corpus` with one instrument (or one drawn per piece from several) until `minutes` of
    audio are written.

    Args:
        corpus: a corpus name ("essen", "bach", "oneills", ...) or a folder of music files, or several (the
            pieces of all are shuffled together).
        program: a GM program number or name ("violin", "flute"), or several: each piece draws one.
        out_dir: the dataset folder to create (must not exist, or be empty).
        minutes: total duration to render, over all splits.
        tempo_range: the piece's tempo is scaled by a factor drawn from this range (clamped to 40-200 bpm).
        bpm_range: instead, a tempo drawn log-uniformly from this range, whatever the piece's own (so that every
            tempo word is heard with every kind of piece: what a text-to-music model needs to learn tempo).
        velocity_range: a base velocity per piece is drawn from this range.
        max_piece_s: longer pieces are skipped.
        seed: the pieces, instruments, tempi, velocities and transpositions drawn.
        soundfont: a SoundFont file or name (`fluidr3`, `timgm6mb`, `musescore`), or several: each piece draws
            one (default: FluidR3).

    Returns:
        the manifest's entries, in rendering order.
    """
    from cadenza.corpus import load_corpus
    from cadenza.render import GM_PROGRAMS, find_soundfont, program_number, render_score

    out = Path(out_dir)
    if bpm_range is not None and not 20 <= bpm_range[0] <= bpm_range[1] <= 400:
        raise InputError("--bpm", f"needs 20 <= LOW <= HIGH <= 400, got {bpm_range[0]:g} {bpm_range[1]:g}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):  # before the corpus loads, not after
        raise InputError(out, "already exists and is not empty; choose a new folder")
    programs = [program_number(p) for p in (program if isinstance(program, list) else [program])]
    fonts = [find_soundfont(f) for f in (soundfont if isinstance(soundfont, list) else [soundfont])]
    corpora = corpus if isinstance(corpus, list) else [corpus]
    rng = np.random.default_rng(seed)
    loaded = [load_corpus(c, progress=progress) for c in corpora]
    pool = _interleave([rng.permutation(len(data.scores)) for data in loaded], rng)
    target_s = minutes * 60
    entries: list[ClipInfo] = []
    total = 0.0
    bar = tqdm(total=round(target_s), desc="render", unit="s", disable=not progress)
    with atomic_folder(out) as tmp:
        for ci, idx in pool:
            if total >= target_s:
                break
            score, split = loaded[ci].scores[idx], loaded[ci].split_of[idx]
            prog = programs[int(rng.integers(len(programs)))] if len(programs) > 1 else programs[0]
            font = fonts[int(rng.integers(len(fonts)))] if len(fonts) > 1 else fonts[0]
            name = GM_PROGRAMS[prog].split(" (")[0]
            pitched = [n for p in score.parts if not p.is_drum for n in p.notes]
            if not pitched:
                continue
            shift = fit_transposition(min(n.pitch for n in pitched), max(n.pitch for n in pitched), prog, rng)
            if shift is None:
                continue
            if bpm_range is not None:
                bpm = float(np.exp(rng.uniform(np.log(bpm_range[0]), np.log(bpm_range[1]))))
            else:
                bpm = float(np.clip(score.tempo_bpm * rng.uniform(*tempo_range), 40, 200))
            velocity = int(rng.integers(velocity_range[0], velocity_range[1] + 1))
            piece = vary_velocity(score.transpose(shift), velocity, rng).replace(tempo_bpm=bpm)
            if piece.duration_s > max_piece_s or piece.duration_s < 2:
                continue
            rel = f"{split}/{_slug(corpora[ci])}-{int(idx):05d}.wav"
            with tempfile.TemporaryDirectory() as work:
                raw = render_score(piece, Path(work) / "raw.wav", sample_rate=sample_rate, program=prog,
                                   soundfont=font, effects=False)  # fmt: skip
                clip = trim_silence(read_audio(raw, mono=True))
            write_audio(clip, tmp / rel)
            total += clip.duration_s
            bar.update(round(clip.duration_s))
            entries.append(ClipInfo(
                file=rel, split=split, source=score.source or score.title, piece=int(idx), program=prog,
                instrument=name, key=piece.key.name if piece.key else "", meter=str(piece.time_signature),
                tempo_bpm=round(bpm, 1), transpose=shift, velocity=velocity, duration_s=round(clip.duration_s, 3),
                sample_rate=sample_rate, caption=caption_for(piece, name, bpm), n_parts=len(piece.parts),
                mean_pitch=round(float(np.mean([n.pitch for n in pitched])) + shift, 1), soundfont=font.name,
            ))  # fmt: skip
        bar.close()
        if not entries:
            raise CadenzaError(f"no piece of {', '.join(corpora)} fits the range of the instrument(s)")
        write_manifest(tmp, entries)
    return entries


def _interleave(orders: list[np.ndarray], rng: np.random.Generator) -> list[tuple[int, int]]:
    """(corpus, piece) pairs: each draw picks a corpus at random (equal odds while it has pieces left), then
    its next piece, so a small corpus is as present as a large one until it runs out."""
    if len(orders) == 1:
        return [(0, int(i)) for i in orders[0]]
    left = [list(o[::-1]) for o in orders]
    out = []
    while any(left):
        ci = int(rng.choice([i for i, rest in enumerate(left) if rest]))
        out.append((ci, int(left[ci].pop())))
    return out


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in Path(name).name.lower()).strip("-") or "corpus"


def trim_silence(clip: AudioClip, threshold_db: float = -60.0, pad_s: float = 0.1) -> AudioClip:
    """Drop leading and trailing samples quieter than `threshold_db` re. the peak, keeping `pad_s` of margin."""
    level = np.abs(clip.samples).max(axis=0)
    loud = np.nonzero(level > clip.peak * 10 ** (threshold_db / 20))[0]
    if len(loud) == 0:
        return clip
    pad = round(pad_s * clip.sample_rate)
    a, b = max(0, loud[0] - pad), min(clip.n_samples, loud[-1] + pad)
    return AudioClip(clip.samples[:, a:b], clip.sample_rate)


def write_manifest(folder: str | Path, entries: list[Any]) -> None:
    from cadenza.io.files import write_text_atomic

    lines = [json.dumps(asdict(e) if hasattr(e, "__dataclass_fields__") else e) for e in entries]
    write_text_atomic(Path(folder) / MANIFEST, "\n".join(lines) + "\n")


def read_manifest(folder: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    """The manifest's entries (as dicts), optionally of one split.

    Raises:
        InputError: the folder has no manifest, or a line is not JSON, or a listed file is missing.
    """
    root = Path(folder)
    path = root / MANIFEST
    if not root.is_dir():
        raise InputError(root, "no such dataset folder")
    if not path.is_file():
        raise InputError(root, f"not a cadenza dataset: no {MANIFEST} (build one with `cadenza data render`)")
    entries = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            file = e["file"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError(path, f"line {i} is not a manifest entry") from None
        if not (root / file).is_file():
            raise InputError(root / file, "listed in the manifest but missing")
        if split is None or e.get("split") == split:
            entries.append(e)
    return entries
