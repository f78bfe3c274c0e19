"""Audio files <-> `AudioClip` with soundfile: WAV, FLAC and Ogg (Vorbis or Opus), read and written.

Reading checks what a user can get wrong (no file, not audio, no samples, NaN) and says so in one line;
`read_audio(path, sample_rate=16000, mono=True)` converts on the way in and reports what it changed.
Writes are atomic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cadenza.core.audio import AudioClip, AudioError
from cadenza.errors import InputError
from cadenza.io.files import atomic_path

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus")
_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"),
            ".opus": ("OGG", "OPUS")}  # fmt: skip
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def read_audio(
    path: str | Path,
    *,
    sample_rate: int | None = None,
    mono: bool = False,
    notes: list[str] | None = None,
) -> AudioClip:
    """Read an audio file.

    Args:
        path: a .wav, .flac, .ogg or .opus file.
        sample_rate: resample to this rate if the file has another one.
        mono: mix several channels down to one.
        notes: if given, a line is appended for each conversion made ("resampled 44100 -> 16000 Hz").

    Raises:
        InputError: the file is missing, not audio, empty, or has NaN/Inf samples.
    """
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    if p.stat().st_size == 0:
        raise InputError(p, "empty file")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError or TypeError by version
        raise InputError(p, f"not a readable audio file ({str(e).splitlines()[0][:100]})") from None
    if data.shape[0] == 0:
        raise InputError(p, "the audio file has no samples")
    try:
        clip = AudioClip(data.T, rate)
    except AudioError as e:
        raise InputError(p, str(e)) from None
    if mono and clip.n_channels > 1:
        clip = clip.mono()
        if notes is not None:
            notes.append(f"mixed {data.shape[1]} channels down to mono")
    if sample_rate is not None and clip.sample_rate != sample_rate:
        from cadenza.audio.dsp import resample

        if notes is not None:
            notes.append(f"resampled {clip.sample_rate} -> {sample_rate} Hz")
        clip = resample(clip, sample_rate)
    return clip


def write_audio(clip: AudioClip, path: str | Path, *, bitrate_kbps: float | None = None) -> Path:
    """Write `clip` by suffix: .wav / .flac (16-bit), .ogg (Vorbis), .opus (Ogg/Opus), atomically.

    Samples beyond [-1, 1] are clipped. Opus only takes 8, 12, 16, 24 or 48 kHz: resample first.

    Args:
        bitrate_kbps: for .opus, the target bitrate (6..256 kbps per channel; libsndfile's compression
            level is set from it).
    """
    import soundfile as sf

    p = Path(path)
    fmt = _FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InputError(p, f"unknown audio suffix (use one of {', '.join(AUDIO_SUFFIXES)})")
    if p.suffix.lower() == ".opus" and clip.sample_rate not in OPUS_RATES:
        raise InputError(p, f"Opus takes {OPUS_RATES} Hz, not {clip.sample_rate}; resample first")
    data = np.clip(clip.samples.T, -1.0, 1.0)
    level = None
    if bitrate_kbps is not None and fmt[1] == "OPUS":
        level = _opus_compression_level(bitrate_kbps, clip.n_channels)
    with atomic_path(p) as tmp, sf.SoundFile(str(tmp), "w", clip.sample_rate, clip.n_channels, format=fmt[0],
                                             subtype=fmt[1], compression_level=level) as f:  # fmt: skip
        f.write(data)
    return p


def _opus_compression_level(kbps: float, n_channels: int) -> float:
    # libsndfile's ogg_opus.c sets the Opus bitrate to (1 - level) * 250 kbps + 6 kbps per channel: invert it.
    lo, hi = 6.0, 256.0
    per_channel = min(hi, max(lo, kbps / n_channels))
    return float((hi - per_channel) / (hi - lo))
