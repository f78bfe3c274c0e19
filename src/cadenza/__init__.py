"""cadenza: generative music AI, symbolic and audio, end to end on a CPU.

    >>> import cadenza
    >>> model = cadenza.load("lstm-essen")          # any shipped model by name, or a model folder
    >>> score = model.generate(seed=1)
    >>> cadenza.save(score, "melody.mid")             # .mid .xml .abc, or .wav (rendered with FluidSynth)

`cadenza models` (or `cadenza.registry.MODELS`) lists what can be loaded. Importing cadenza is light: the
heavy libraries load with the model that needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"


def load(name_or_dir: str | Path) -> Any:
    """A shipped model by name (`"music-transformer-jsb"`, `"ddsp-violin"`, ...) or a model folder; its kind picks
    the class (`cadenza.registry`), which checks the format version and the weights."""
    from cadenza.registry import load as _load

    return _load(name_or_dir)


def save(obj: Any, path: str | Path, *, program: int | str | None = None) -> Path:
    """Write a `Score` (.mid, .xml, .mxl, .abc, or .wav rendered through FluidSynth, `program` for every part) or an
    `AudioClip` (.wav, .flac, .ogg) to `path`, atomically."""
    from cadenza.core.audio import AudioClip
    from cadenza.core.score import Score
    from cadenza.errors import InputError

    p = Path(path)
    if isinstance(obj, AudioClip):
        from cadenza.io.audio import write_audio

        return write_audio(obj, p)
    if not isinstance(obj, Score):
        raise InputError(p, f"cannot save a {type(obj).__name__} (a Score or an AudioClip)")
    if p.suffix.lower() in (".wav", ".flac", ".ogg"):
        from cadenza.render import program_number, render_score

        number = program_number(program) if isinstance(program, str) else program
        return render_score(obj, p, program=number)
    from cadenza import io

    io.write(obj, p)
    return p


__all__ = ["__version__", "load", "save"]
