"""An NSynth-like set of single notes made here (Engel et al. 2017; NSynth itself cannot be downloaded here): every
pitched General MIDI program through several SoundFonts, MIDI pitches 24-84, several velocities, 4 s at 16 kHz
(held 3 s, released for 1 s, as NSynth), with NSynth-style metadata and qualities measured from the audio.

An *instrument* is one program of one SoundFont (as NSynth's instruments are one preset of one source); the splits
are by instrument (80/10/10 by a hash of the name), so held-out instruments are never seen in training. One
FluidSynth call renders all the pitches of one (instrument, velocity) as a sequence of notes 6 s apart, cut into
4 s notes; calls run in parallel processes, each writing its notes and a done-marker, so an interrupted build
resumes where it stopped and the manifest is written once every job is done.

    build_notes("data/notes", soundfonts=["fluidr3", "timgm6mb", "musescore"], workers=2)
"""

from __future__ import annotations

import json
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import InputError

NOTE_S, HELD_S, SLOT_S = 4.0, 3.0, 6.0
FAMILIES = ("piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass", "reed",
            "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects")  # fmt: skip
PITCHED_PROGRAMS = tuple(range(0, 112))  # families 0-13; percussive and sound effects are left out
SILENT_DB = -60.0  # a rendered note whose peak stays below this is dropped (the SoundFont has no sample there)


def family_of(program: int) -> str:
    return FAMILIES[program // 8]


def instrument_name(program: int, font: str) -> str:
    """`violin_fluidr3`-style names: the GM program and the SoundFont's short name."""
    from cadenza.render import GM_PROGRAMS

    prog = GM_PROGRAMS[program].split(" (")[0].lower().replace(" ", "-")
    return f"{prog}_{Path(font).stem.lower().split('_')[0]}"


def split_of(instrument: str) -> str:
    """train / valid / test by a hash of the instrument's name (80/10/10)."""
    h = zlib.crc32(instrument.encode()) % 10
    return "test" if h == 9 else "valid" if h == 8 else "train"


def qualities(x: np.ndarray, sr: int, pitch: int) -> dict[str, float | bool]:
    """What the audio of one note measures: its peak level, spectral centroid (Hz, and in harmonics of the note's
    f0: brightness), attack time (from 10% to 90% of the envelope's peak), the level 1 s after the attack, and two
    NSynth-like tags: `bright` (centroid above the 4th harmonic) and `percussive` (attack under 30 ms, 20 dB down
    within a second)."""
    frame = int(0.01 * sr)
    env = np.sqrt(np.convolve(x**2, np.ones(frame) / frame, mode="same")) + 1e-9
    peak = float(env[: int(HELD_S * sr)].max())
    onset_i = int(np.argmax(env > peak * 0.1))
    attack_i = int(np.argmax(env > peak * 0.9))
    after = env[min(len(env) - 1, attack_i + sr)]
    spec = np.abs(np.fft.rfft(x[: int(HELD_S * sr)] * np.hanning(int(HELD_S * sr))))
    freqs = np.fft.rfftfreq(int(HELD_S * sr), 1 / sr)
    centroid = float((spec * freqs).sum() / (spec.sum() + 1e-12))
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    attack = (attack_i - onset_i) / sr
    decay_db = float(20 * np.log10(after / peak))
    return {"peak_db": round(float(20 * np.log10(np.abs(x).max() + 1e-9)), 2), "centroid_hz": round(centroid, 1),
            "brightness": round(centroid / f0, 2), "attack_s": round(attack, 3), "decay_db_1s": round(decay_db, 1),
            "bright": bool(centroid / f0 > 4.0), "percussive": bool(attack < 0.03 and decay_db < -20)}  # fmt: skip


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def render_job(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Render the pitches of one (program, SoundFont, velocity) in one FluidSynth call; write each audible note as
    a WAV in the job's folder; return their manifest entries."""
    from cadenza.core.audio import AudioClip
    from cadenza.core.score import Note, Part, Score
    from cadenza.io.audio import read_audio, write_audio
    from cadenza.render import render_score

    sr, program, velocity, pitches = job["sample_rate"], job["program"], job["velocity"], job["pitches"]
    notes = tuple(Note(p, i * SLOT_S, HELD_S, velocity) for i, p in enumerate(pitches))  # 60 bpm: 1 quarter = 1 s
    score = Score(parts=(Part(notes, program=program),), tempo_bpm=60.0)
    out = Path(job["out"])
    entries = []
    with tempfile.TemporaryDirectory() as work:
        raw = render_score(score, Path(work) / "raw.wav", sample_rate=sr, program=program, soundfont=job["font"],
                           effects=False)  # fmt: skip
        audio = read_audio(raw, mono=True).samples[0]
    n = int(NOTE_S * sr)
    for i, pitch in enumerate(pitches):
        x = audio[int(i * SLOT_S * sr) : int(i * SLOT_S * sr) + n]
        x = np.pad(x, (0, n - len(x)))
        if 20 * np.log10(np.abs(x).max() + 1e-9) < SILENT_DB:
            continue
        name = f"{job['instrument']}-{pitch:03d}-{velocity:03d}"
        rel = f"{job['split']}/{name}.wav"
        write_audio(AudioClip(x.astype(np.float32), sr), out / rel)
        entries.append({
            "file": rel, "split": job["split"], "note": name, "instrument": job["instrument"],
            "program": program, "instrument_name": job["program_name"], "family": family_of(program),
            "soundfont": Path(job["font"]).name, "pitch": pitch, "velocity": velocity, "duration_s": NOTE_S,
            "sample_rate": sr, "qualities": qualities(x, sr, pitch),
            "caption": f"{_article(job['program_name'])} {job['program_name'].lower()} note, MIDI pitch {pitch}, "
                       f"velocity {velocity}",
        })  # fmt: skip
    return entries


def _job_done(out: Path, key: str) -> Path:
    return out / ".jobs" / f"{key}.json"


def _run(job: dict[str, Any]) -> tuple[str, int]:
    from cadenza.io.files import write_text_atomic

    entries = render_job(job)
    write_text_atomic(_job_done(Path(job["out"]), job["key"]), json.dumps(entries))
    return job["key"], len(entries)


def check_soundfonts(fonts: Iterable[str]) -> list[Path]:
    """Each SoundFont found and able to play a note (else InputError naming it)."""
    from cadenza.core.score import Note, Part, Score
    from cadenza.render import RenderError, find_soundfont, render_score

    out = []
    for f in fonts:
        path = find_soundfont(f)
        with tempfile.TemporaryDirectory() as work:
            try:
                render_score(Score(parts=(Part((Note(60, 0.0, 0.5, 100),), program=0),)), Path(work) / "t.wav",
                             sample_rate=16000, soundfont=path, effects=False)  # fmt: skip
            except RenderError as e:
                raise InputError(path, f"this SoundFont does not load ({e})") from None
        out.append(path)
    return out


def build_notes(
    out_dir: str | Path,
    *,
    soundfonts: list[str] | None = None,
    programs: Iterable[int] = PITCHED_PROGRAMS,
    pitch_range: tuple[int, int] = (24, 84),
    velocities: Iterable[int] = (100,),
    sample_rate: int = 16000,
    workers: int = 1,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Render the note set into `out_dir` (resuming an interrupted build there), then write its manifest.

    Raises:
        InputError: `out_dir` holds a finished set or something else, a SoundFont is missing or does not load,
            a pitch or velocity out of MIDI's range.
    """
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    from cadenza.audio.datasets import MANIFEST, write_manifest
    from cadenza.render import GM_PROGRAMS

    out = Path(out_dir)
    if (out / MANIFEST).exists():
        raise InputError(out, "already holds a finished note set; choose a new folder")
    if out.exists() and any(out.iterdir()) and not (out / ".jobs").is_dir():
        raise InputError(out, "already exists and is not an unfinished note set; choose a new folder")
    lo, hi = pitch_range
    if not 0 <= lo <= hi <= 127:
        raise InputError("--pitches", f"{lo}-{hi} is not a MIDI pitch range (0-127)")
    vels = sorted(set(velocities))
    if not vels or not all(1 <= v <= 127 for v in vels):
        raise InputError("--velocities", "velocities must be 1..127")
    fonts = check_soundfonts(soundfonts or ["fluidr3"])
    (out / ".jobs").mkdir(parents=True, exist_ok=True)
    jobs = []
    for font in fonts:
        for program in programs:
            inst = instrument_name(program, str(font))
            for v in vels:
                key = f"{inst}-{v:03d}"
                if _job_done(out, key).exists():
                    continue
                jobs.append({"key": key, "out": str(out), "font": str(font), "program": program, "velocity": v,
                             "instrument": inst, "program_name": GM_PROGRAMS[program].split(" (")[0],
                             "split": split_of(inst), "pitches": list(range(lo, hi + 1)),
                             "sample_rate": sample_rate})  # fmt: skip
    bar = tqdm(total=len(jobs), desc="notes", unit="instrument", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        with get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_run, jobs):
                bar.update()
    else:
        for job in jobs:
            _run(job)
            bar.update()
    bar.close()
    entries = [e for f in sorted((out / ".jobs").glob("*.json")) for e in json.loads(f.read_text())]
    if not entries:
        raise InputError(out, "no audible note was rendered (do the SoundFonts cover these programs and pitches?)")
    write_manifest(out, entries)
    import shutil

    shutil.rmtree(out / ".jobs")  # the manifest now holds what the markers held
    return entries
