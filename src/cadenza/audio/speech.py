"""Speech clips from espeak-ng (Debian's `espeak-ng`, installed by `make`): a voice input for timbre transfer
that no model here was trained on."""

from __future__ import annotations

import io
import shutil
import subprocess

from cadenza.core.audio import AudioClip
from cadenza.errors import AudioError

SENTENCES = (
    "The quick brown fox jumps over the lazy dog, and the band plays on into the night. "
    "Music is the space between the notes, said a composer long ago, while the violins kept singing softly."
)


def speak(text: str = SENTENCES, *, sample_rate: int = 16000, voice: str = "en", words_per_minute: int = 150,
          pitch: int = 50) -> AudioClip:  # fmt: skip
    """`text` spoken by espeak-ng, mono at `sample_rate`.

    Raises:
        AudioError: espeak-ng is not installed (`make install` installs it) or failed.
    """
    import soundfile as sf

    from cadenza.audio.dsp import resample

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise AudioError("espeak-ng is not installed (`make install` installs it with apt-get)")
    cmd = [exe, "--stdout", "-v", voice, "-s", str(words_per_minute), "-p", str(pitch), text]
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    if proc.returncode != 0 or not proc.stdout:
        raise AudioError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
    data, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    return resample(AudioClip(data.T.copy(), sr), sample_rate).mono()
