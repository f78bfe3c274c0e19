"""The canonical audio type: `AudioClip`, float32 samples [channels, samples] plus their sample rate.

Every audio reader returns an `AudioClip`; every codec, synthesizer and metric takes one (or its tensor).
Pure numpy, nothing heavy imported: resampling and loudness live in `cadenza.audio.dsp`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cadenza.errors import AudioError


@dataclass(frozen=True, eq=False)
class AudioClip:
    """Audio samples and their rate.

    Attributes:
        samples: float32 array [channels, samples], nominally in [-1, 1].
        sample_rate: samples per second per channel (Hz).
    """

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        x = np.asarray(self.samples, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise AudioError(f"audio must be [channels, samples], got shape {tuple(x.shape)}")
        if x.shape[0] > x.shape[1] and x.shape[1] <= 8:
            raise AudioError(f"audio shape {tuple(x.shape)} looks like [samples, channels]; transpose it")
        if not 1000 <= int(self.sample_rate) <= 384000:
            raise AudioError(f"sample rate {self.sample_rate} Hz is outside 1000..384000")
        if not np.isfinite(x).all():
            raise AudioError("audio has NaN or Inf samples")
        object.__setattr__(self, "samples", np.ascontiguousarray(x))
        object.__setattr__(self, "sample_rate", int(self.sample_rate))

    @property
    def n_channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    @property
    def peak(self) -> float:
        """The largest absolute sample value."""
        return float(np.abs(self.samples).max()) if self.n_samples else 0.0

    def mono(self) -> AudioClip:
        """The mean of the channels, as one channel (the clip itself if it is mono)."""
        if self.n_channels == 1:
            return self
        return AudioClip(self.samples.mean(axis=0, keepdims=True), self.sample_rate)

    def slice_s(self, start_s: float, end_s: float | None = None) -> AudioClip:
        """The part between two times in seconds."""
        a = max(0, round(start_s * self.sample_rate))
        b = self.n_samples if end_s is None else min(self.n_samples, round(end_s * self.sample_rate))
        return AudioClip(self.samples[:, a:b], self.sample_rate)

    def peak_normalize(self, peak_db: float = -1.0) -> AudioClip:
        """Scale so that the largest sample is at `peak_db` dBFS (silence is returned unchanged)."""
        p = self.peak
        if p <= 0:
            return self
        return AudioClip(self.samples * (10 ** (peak_db / 20) / p), self.sample_rate)

    def limit_peak(self, peak_db: float = -1.0) -> AudioClip:
        """Scaled down to `peak_db` dBFS if its peak is above it; else the clip itself."""
        return self.peak_normalize(peak_db) if self.peak > 10 ** (peak_db / 20) else self

    def gain_db(self, db: float) -> AudioClip:
        return AudioClip(self.samples * 10 ** (db / 20), self.sample_rate)

    @staticmethod
    def silence(duration_s: float, sample_rate: int, n_channels: int = 1) -> AudioClip:
        return AudioClip(np.zeros((n_channels, round(duration_s * sample_rate)), np.float32), sample_rate)
