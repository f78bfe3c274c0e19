"""Score -> WAV through FluidSynth and a General MIDI SoundFont (Debian: fluidsynth, fluid-soundfont-gm)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from cadenza.core.score import Score
from cadenza.errors import CadenzaError, InputError
from cadenza.io.files import atomic_path
from cadenza.io.midi import write_midi

SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)


def _pretty_midi_soundfont() -> str:
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        return ""
    return str(Path(list(spec.submodule_search_locations)[0]) / "TimGM6mb.sf2")


# General MIDI SoundFonts by name: FluidR3 (Debian fluid-soundfont-gm, the default), TimGM6mb (inside the
# pretty-midi wheel) and MuseScore General Lite (Debian musescore-general-soundfont-small): three renderings of
# every instrument, for data that does not learn one SoundFont's sound.
NAMED_SOUNDFONTS = {
    "fluidr3": lambda: SOUNDFONT_CANDIDATES[0],
    "timgm6mb": _pretty_midi_soundfont,
    "musescore": lambda: "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
}


class RenderError(CadenzaError):
    """FluidSynth is missing or failed."""


def find_soundfont(path: str | Path | None = None) -> Path:
    """The SoundFont to use: `path` (a file, or a name of `NAMED_SOUNDFONTS`), else $CADENZA_SOUNDFONT, else the
    Debian General MIDI SoundFont."""
    chosen = path or os.environ.get("CADENZA_SOUNDFONT")
    if chosen and str(chosen) in NAMED_SOUNDFONTS:
        named = Path(NAMED_SOUNDFONTS[str(chosen)]())
        if not named.is_file():
            raise InputError(named, f"SoundFont {chosen!r} not found (install with `make system`)")
        return named
    if chosen:
        p = Path(chosen)
        if not p.is_file():
            raise InputError(p, "SoundFont not found")
        with open(p, "rb") as f:
            head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"sfbk":  # FluidSynth would quietly play its default font instead
            raise InputError(p, "is not a SoundFont (.sf2 / .sf3 files begin with a RIFF sfbk header)")
        return p
    for c in SOUNDFONT_CANDIDATES:
        if Path(c).is_file():
            return Path(c)
    raise InputError(SOUNDFONT_CANDIDATES[0], "no General MIDI SoundFont (install with `make system`)")


def render_score(
    score: Score,
    path: str | Path,
    *,
    sample_rate: int = 44100,
    program: int | None = None,
    soundfont: str | Path | None = None,
    gain: float = 0.6,
    effects: bool = True,
) -> Path:
    """Render `score` to a WAV file (16-bit stereo) with FluidSynth, atomically.

    Args:
        score: the music; each part plays its own GM program unless `program` overrides all parts.
        path: the .wav to write.
        sample_rate: output rate in Hz.
        program: one GM program (0..127) for every pitched part.
        soundfont: a .sf2 file (default: see `find_soundfont`).
        gain: FluidSynth master gain (0.2 is its quiet default).
        effects: FluidSynth's reverb and chorus (off gives the dry sound that audio datasets want).
    """
    sf2 = find_soundfont(soundfont)
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError("fluidsynth is not installed (install with `make system`)")
    if not 8000 <= sample_rate <= 192000:
        raise RenderError(f"sample rate {sample_rate} Hz is outside 8000..192000")
    if program is not None:
        parts = tuple(p if p.is_drum else dataclasses.replace(p, program=program) for p in score.parts)
        score = score.replace(parts=parts)
    with tempfile.TemporaryDirectory() as tmp:
        mid = Path(tmp) / "in.mid"
        write_midi(score, mid)
        with atomic_path(path) as out:
            fx = str(int(effects))
            cmd = [exe, "-ni", "-q", "-g", str(gain), "-r", str(sample_rate), "-o", "synth.cpu-cores=1",
                   "-R", fx, "-C", fx, "-F", str(out), "-T", "wav", str(sf2), str(mid)]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0 or out.stat().st_size <= 44:
                raise RenderError(f"fluidsynth failed: {(proc.stderr or proc.stdout).strip()[:200]}")
    return Path(path)
