"""DSP as pure, documented functions: resampling, spectrograms, the spectral distances used as losses and
metrics, A-weighted loudness, f0 (CREPE or pYIN) and the PQMF filter bank.

Conventions (as in magenta/ddsp `core.py`): units in names (`f0_hz`, `loudness_db`, `sample_rate`,
`frame_rate`); a feature at frame rate `frame_rate` has `n_frames = n_samples // hop` frames, where
`hop = sample_rate // frame_rate`, and frame i is centred on sample `i * hop`. Torch functions take
`[..., T]` tensors and are differentiable; they are the training losses and the evaluation metrics alike.
"""

from __future__ import annotations

import math
import sys
import types
from functools import lru_cache

import numpy as np
import torch

from cadenza.core.audio import AudioClip, AudioError

# ---------------------------------------------------------------------------------------------- resampling


def resample(clip: AudioClip, sample_rate: int) -> AudioClip:
    """Resample with a polyphase filter (scipy `resample_poly`, Kaiser window), exact for any integer rates."""
    from scipy.signal import resample_poly

    if sample_rate == clip.sample_rate:
        return clip
    g = math.gcd(sample_rate, clip.sample_rate)
    up, down = sample_rate // g, clip.sample_rate // g
    out = resample_poly(clip.samples, up, down, axis=-1).astype(np.float32)
    return AudioClip(out, sample_rate)


def hop_length(sample_rate: int, frame_rate: int) -> int:
    """Samples per frame; the frame rate must divide the sample rate."""
    if sample_rate % frame_rate:
        raise AudioError(f"frame rate {frame_rate} Hz does not divide the sample rate {sample_rate} Hz")
    return sample_rate // frame_rate


# ---------------------------------------------------------------------------------------------- spectrograms


def stft_magnitude(x: torch.Tensor, n_fft: int, hop: int | None = None) -> torch.Tensor:
    """|STFT| with a Hann window, centred frames.

    Args:
        x: audio [..., T].
        n_fft: window and FFT size.
        hop: hop in samples (default n_fft // 4, 75% overlap as in DDSP).

    Returns:
        magnitudes [..., n_fft // 2 + 1, frames].
    """
    hop = hop or n_fft // 4
    shape = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    spec = torch.stft(flat, n_fft, hop, window=window, center=True, return_complex=True)
    return spec.abs().reshape(*shape, spec.shape[-2], spec.shape[-1])


@lru_cache(maxsize=32)
def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """Slaney-style mel filters [n_mels, n_fft // 2 + 1], area-normalized: librosa's defaults, as DAC and
    HiFi-GAN use (a test checks them against librosa). Written out so the training path needs numpy alone."""
    f_max = sample_rate / 2 if f_max is None else f_max
    edges = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    ramps = edges[:, None] - freqs[None, :]
    width = np.diff(edges)
    rising, falling = -ramps[:-2] / width[:-1, None], ramps[2:] / width[1:, None]
    weights = np.maximum(0, np.minimum(rising, falling)) * (2 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


SALIENCE_NOTES = (28, 100)  # MIDI notes E1..E7 that `pitch_salience` scores (one row each, both ends included)


@lru_cache(maxsize=8)
def harmonic_filterbank(sample_rate: int, n_fft: int, harmonics: int = 6, decay: float = 0.8,
                        notes: tuple[int, int] = SALIENCE_NOTES) -> np.ndarray:  # fmt: skip
    """[n_notes, n_fft // 2 + 1]: each row sums the STFT magnitude at a note's first `harmonics` harmonics
    (interpolated between bins), the h-th weighted decay^(h-1): harmonic summation (Klapuri 2006)."""
    midi = np.arange(notes[0], notes[1] + 1)
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    bins = np.arange(n_fft // 2 + 1)
    out = np.zeros((len(midi), len(bins)), np.float32)
    for h in range(1, harmonics + 1):
        k = h * f0 * n_fft / sample_rate  # fractional bin of the h-th harmonic
        w = np.maximum(0.0, 1.0 - np.abs(bins[None, :] - k[:, None])) * (k < len(bins) - 1)[:, None]
        out += decay ** (h - 1) * w
    return out


def pitch_salience(audio: torch.Tensor, sample_rate: int, hop: int, n_fft: int = 2048) -> torch.Tensor:
    """Log harmonic-sum salience of every note of `SALIENCE_NOTES` per frame: audio [B, T] -> [B, n_notes,
    T // hop] (frame i centred on sample i * hop). A tone's fundamental scores highest; differentiable."""
    mag = stft_magnitude(audio, n_fft, hop)[..., : audio.shape[-1] // hop]
    bank = torch.as_tensor(harmonic_filterbank(sample_rate, n_fft), device=audio.device, dtype=audio.dtype)
    return torch.log(torch.einsum("nf,bft->bnt", bank, mag) + 1e-4)


# Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4).
_MEL_LINEAR_HZ, _MEL_BREAK_HZ, _MEL_LOG_STEP = 200 / 3, 1000.0, math.log(6.4) / 27


def _hz_to_mel(f: float | np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    brk = _MEL_BREAK_HZ / _MEL_LINEAR_HZ
    log_part = brk + np.log(np.maximum(f, 1e-12) / _MEL_BREAK_HZ) / _MEL_LOG_STEP
    return np.where(f >= _MEL_BREAK_HZ, log_part, f / _MEL_LINEAR_HZ)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    brk = _MEL_BREAK_HZ / _MEL_LINEAR_HZ
    return np.where(m >= brk, _MEL_BREAK_HZ * np.exp(_MEL_LOG_STEP * (m - brk)), m * _MEL_LINEAR_HZ)


def mel_spectrogram(x: torch.Tensor, sample_rate: int, n_fft: int = 1024, hop: int | None = None,
                    n_mels: int = 80) -> torch.Tensor:  # fmt: skip
    """Mel magnitude spectrogram [..., n_mels, frames] (magnitude, not power, as in DAC's mel loss)."""
    mag = stft_magnitude(x, n_fft, hop)
    fb = torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels)).to(x)
    return torch.einsum("mf,...ft->...mt", fb, mag)


def _log_l1(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    """Mean L1 distance of two magnitude spectrograms' logs (floored at 1e-7): each spectral distance's log term."""
    return (torch.log(sx + 1e-7) - torch.log(sy + 1e-7)).abs().mean()


def multiscale_spectral_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64),
    log_weight: float = 1.0,
) -> torch.Tensor:
    """The DDSP multi-scale spectral loss (Engel et al. 2020, eq. 5): for each FFT size, the mean L1 distance
    of the magnitudes plus `log_weight` times that of their logs, summed over sizes (75% overlap).

    Args:
        x, y: audio [..., T] of the same shape.

    Returns:
        a scalar tensor (averaged over the batch).
    """
    if x.shape != y.shape:
        raise AudioError(f"spectral distance of audio with shapes {tuple(x.shape)} and {tuple(y.shape)}")
    total = x.new_zeros(())
    for n in fft_sizes:
        sx, sy = stft_magnitude(x, n), stft_magnitude(y, n)
        total = total + (sx - sy).abs().mean()
        if log_weight:
            total = total + log_weight * _log_l1(sx, sy)
    return total


def multiresolution_stft_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128),
) -> torch.Tensor:
    """The multi-resolution STFT loss of Parallel WaveGAN (Yamamoto et al. 2020), as NoiseBandNet trains with:
    per size, spectral convergence ||Sy - Sx||_F / ||Sy||_F plus the mean L1 distance of log magnitudes;
    averaged over sizes (hop = size / 4). `y` is the reference."""
    total = x.new_zeros(())
    for n in fft_sizes:
        sx, sy = stft_magnitude(x, n), stft_magnitude(y, n)
        sc = torch.linalg.vector_norm(sy - sx) / torch.linalg.vector_norm(sy).clamp_min(1e-7)
        total = total + sc + _log_l1(sx, sy)
    return total / len(fft_sizes)


def relative_spectral_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128),
) -> torch.Tensor:
    """RAVE's audio distance (Caillon & Esling 2021; `AudioDistanceV1` of acids-ircam/RAVE): per FFT size, the
    squared L2 distance of the magnitudes relative to the reference's energy, mean((Sy - Sx)^2) / mean(Sy^2), plus
    the mean L1 distance of their logs; summed over sizes (hop = size / 4). `y` is the reference.

    Unlike `multiscale_spectral_distance`, whose mean L1 of magnitudes is tiny beside the log term, the relative
    term is of order 1 whatever the level, and it is dominated by the strongest partials: a wrong pitch costs it
    nearly its whole value, where a log distance spread over every bin barely notices.
    """
    if x.shape != y.shape:
        raise AudioError(f"spectral distance of audio with shapes {tuple(x.shape)} and {tuple(y.shape)}")
    total = x.new_zeros(())
    for n in fft_sizes:
        sx, sy = stft_magnitude(x, n), stft_magnitude(y, n)
        total = total + (sy - sx).square().mean() / sy.square().mean().clamp_min(1e-12)
        total = total + _log_l1(sx, sy)
    return total


def mel_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    sample_rate: int,
    window_lengths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048),
    n_mels: tuple[int, ...] = (5, 10, 20, 40, 80, 160, 320),
) -> torch.Tensor:
    """DAC's multi-scale mel distance (Kumar et al. 2023, `MelSpectrogramLoss`): for each window length, the mean
    L1 distance of log10 mel magnitudes clamped at 1e-5, summed over the scales. Lower is better.

    The bins per scale are those of DAC; with 2048-sample windows at 16 kHz the top scale has 320 bins over
    1,025 FFT bins, as at 44.1 kHz.
    """
    total = x.new_zeros(())
    for win, mels in zip(window_lengths, n_mels):
        mx = mel_spectrogram(x, sample_rate, win, win // 4, mels)
        my = mel_spectrogram(y, sample_rate, win, win // 4, mels)
        total = total + (torch.log10(mx.clamp_min(1e-5)) - torch.log10(my.clamp_min(1e-5))).abs().mean()
    return total


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019), per item of [..., T]."""
    ref = reference - reference.mean(-1, keepdim=True)
    est = estimate - estimate.mean(-1, keepdim=True)
    scale = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + eps)
    target = scale * ref
    noise = est - target
    return 10 * torch.log10((target.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps))


# ---------------------------------------------------------------------------------------------- loudness


def a_weighted_loudness(
    x: torch.Tensor | np.ndarray,
    sample_rate: int,
    frame_rate: int = 100,
    n_fft: int = 2048,
    ref_db: float = 20.7,
    range_db: float = 120.0,
) -> torch.Tensor:
    """Perceptual loudness per frame in dB, as DDSP computes it (`ddsp.spectral_ops.compute_loudness`).

    The power spectrum of each frame is weighted by the A-curve (IEC 61672), averaged over frequency and
    converted to dB; `ref_db` (20.7 dB, DDSP's value for a full-scale white noise) is subtracted and the result
    floored at `-range_db`, so silence is -120 dB and a full-scale white noise about +3.6 dB.

    Args:
        x: audio [..., T].

    Returns:
        loudness in dB [..., T // hop] where hop = sample_rate // frame_rate.
    """
    import librosa

    x = torch.as_tensor(np.asarray(x, np.float32) if isinstance(x, np.ndarray) else x)
    hop = hop_length(sample_rate, frame_rate)
    n_frames = x.shape[-1] // hop
    mag = stft_magnitude(x, n_fft, hop)[..., :n_frames]  # [..., F, frames]
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)
    with np.errstate(divide="ignore"):  # the A-curve is -inf dB at 0 Hz
        weight = torch.from_numpy(10 ** (librosa.A_weighting(freqs) / 10)).to(mag)  # as a power ratio
    power = (mag.pow(2) * weight[:, None]).mean(-2)
    db = 10 * torch.log10(power.clamp_min(1e-20)) - ref_db
    return db.clamp_min(-range_db)


def normalize_loudness(clip: AudioClip, target_db: float = -20.0, floor_db: float = -60.0) -> AudioClip:
    """Scale `clip` so that the mean A-weighted loudness of its sounding frames (above `floor_db`) is
    `target_db` (the scale of `a_weighted_loudness`); the peak is then kept at or below -1 dBFS.

    Raises:
        AudioError: the clip is silent.
    """
    loud = a_weighted_loudness(clip.mono().samples[0], clip.sample_rate).numpy()
    sounding = loud[loud > floor_db]
    if len(sounding) == 0:
        raise AudioError("the audio is silent: nothing to normalize")
    # a gain of g dB moves every frame's loudness by g dB, so one step reaches the target
    return clip.gain_db(target_db - float(sounding.mean())).limit_peak(-1.0)


# ---------------------------------------------------------------------------------------------- f0


F0_METHODS = ("crepe-tiny", "crepe-full", "pyin")


def _import_torchcrepe() -> types.ModuleType:
    # torchcrepe imports torchaudio only to load files, which cadenza does itself. A stub module stands in
    # for the import and is removed at once: left in place, it would break transformers' torchaudio probe.
    if "torchcrepe" in sys.modules:
        return sys.modules["torchcrepe"]
    stubbed = "torchaudio" not in sys.modules
    if stubbed:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        import torchcrepe
    finally:
        if stubbed:
            del sys.modules["torchaudio"]
    return torchcrepe


def f0_crepe(
    clip: AudioClip,
    frame_rate: int = 100,
    model: str = "tiny",
    f0_min_hz: float = 50.0,
    f0_max_hz: float = 2000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """f0 per frame with CREPE (Kim et al. 2018) through torchcrepe, Viterbi-decoded.

    Args:
        clip: mono audio (mixed down if not); resampled to 16 kHz inside torchcrepe.
        frame_rate: frames per second; must divide the sample rate.
        model: "tiny" (fast) or "full" (the paper's model); both ship in the torchcrepe wheel.

    Returns:
        (f0_hz, confidence), each float32 [n_frames]; confidence is CREPE's periodicity in [0, 1].
    """
    crepe = _import_torchcrepe()
    clip = clip.mono()
    hop = hop_length(clip.sample_rate, frame_rate)
    n_frames = clip.n_samples // hop
    audio = torch.from_numpy(clip.samples)
    # The network runs in batches of 512 frames (bounded memory), but the Viterbi decoding runs once over the whole
    # file: `torchcrepe.predict` decodes each batch on its own, and a batch that starts in a pause then lost its
    # voicing for good (a 13 s speech clip read 0.00-0.04 confidence after its pause at 5 s; pYIN heard it voiced).
    with torch.inference_mode():
        probs = [crepe.infer(frames, model, "cpu", embed=False)
                 for frames in crepe.preprocess(audio, clip.sample_rate, hop, 512, "cpu", True)]  # fmt: skip
        probabilities = torch.cat(probs).reshape(1, -1, crepe.PITCH_BINS).transpose(1, 2)  # [1, 360, frames]
        f0, periodicity = crepe.postprocess(probabilities, f0_min_hz, f0_max_hz, crepe.decode.viterbi,
                                            return_periodicity=True)  # fmt: skip
    return _fit_frames(f0[0].numpy(), n_frames), _fit_frames(periodicity[0].numpy(), n_frames)


def f0_pyin(
    clip: AudioClip,
    frame_rate: int = 100,
    f0_min_hz: float = 50.0,
    f0_max_hz: float = 2000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """f0 per frame with probabilistic YIN (Mauch & Dixon 2014) from librosa.

    Unvoiced frames carry the last voiced f0 (the first voiced one at the start), as a synthesizer wants a
    continuous pitch; their confidence is the voicing probability.

    Returns:
        (f0_hz, confidence), each float32 [n_frames].
    """
    import librosa

    clip = clip.mono()
    hop = hop_length(clip.sample_rate, frame_rate)
    n_frames = clip.n_samples // hop
    frame_length = 1 << max(10, math.ceil(math.log2(4 * clip.sample_rate / f0_min_hz)) - 1)
    f0, _, prob = librosa.pyin(clip.samples[0], fmin=f0_min_hz, fmax=min(f0_max_hz, clip.sample_rate / 4),
                               sr=clip.sample_rate, frame_length=frame_length, hop_length=hop, center=True)  # fmt: skip
    f0 = _fill_unvoiced(np.asarray(f0, np.float64))
    return _fit_frames(f0, n_frames), _fit_frames(np.nan_to_num(prob), n_frames)


def f0_track(clip: AudioClip, frame_rate: int = 100, method: str = "crepe-tiny") -> tuple[np.ndarray, np.ndarray]:
    """f0 and confidence per frame by `method`: "crepe-tiny", "crepe-full" or "pyin"."""
    if method == "pyin":
        return f0_pyin(clip, frame_rate)
    if method in ("crepe-tiny", "crepe-full"):
        return f0_crepe(clip, frame_rate, model=method.split("-")[1])
    from cadenza.errors import UnknownNameError

    raise UnknownNameError("f0 method", method, list(F0_METHODS))


def _fill_unvoiced(f0: np.ndarray) -> np.ndarray:
    voiced = np.isfinite(f0)
    if not voiced.any():
        raise AudioError("no pitched sound found (pYIN found no voiced frame)")
    idx = np.where(voiced, np.arange(len(f0)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = f0[idx]
    out[: np.argmax(voiced)] = f0[np.argmax(voiced)]
    return out


def _fit_frames(a: np.ndarray, n_frames: int) -> np.ndarray:
    a = np.asarray(a, np.float32)
    if len(a) >= n_frames:
        return a[:n_frames]
    return np.concatenate([a, np.full(n_frames - len(a), a[-1] if len(a) else 0, np.float32)])


def hz_to_midi(f0_hz: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """MIDI pitch of a frequency (69 = A4 = 440 Hz); 0 Hz maps to -inf."""
    if isinstance(f0_hz, torch.Tensor):
        return 69 + 12 * torch.log2(f0_hz / 440.0)
    with np.errstate(divide="ignore"):
        return 69 + 12 * np.log2(np.asarray(f0_hz) / 440.0)


def cents_error(f0_a_hz: np.ndarray, f0_b_hz: np.ndarray) -> np.ndarray:
    """|1200 log2(a / b)| per frame."""
    return np.abs(1200 * np.log2(np.maximum(f0_a_hz, 1e-3) / np.maximum(f0_b_hz, 1e-3)))


# ---------------------------------------------------------------------------------------------- PQMF


class PQMF(torch.nn.Module):
    """Pseudo-QMF bank: M cosine-modulated bands from one Kaiser-window low-pass prototype (Lin & Vaidyanathan
    1998), the multi-band decomposition of RAVE and Multi-band MelGAN. Near-perfect reconstruction: the
    filters are applied centred (zero phase), so `synthesis(analysis(x))` equals x with no delay, up to the
    aliasing left by the prototype (about 64 dB below the signal with the defaults, for 2 to 16 bands).

    The prototype's cut-off is chosen so that |H(w)|^2 + |H(pi/M - w)|^2 is as flat as possible (the power
    complementarity that cancels aliasing between adjacent bands).

    Args:
        n_bands: M, a power of two.
        taps: the prototype has taps + 1 coefficients (more taps, better reconstruction).
        beta: Kaiser window shape (stop-band attenuation; 9 gives ~90 dB).
    """

    analysis_filters: torch.Tensor
    synthesis_filters: torch.Tensor

    def __init__(self, n_bands: int = 4, taps: int | None = None, beta: float = 9.0) -> None:
        super().__init__()
        from scipy.signal import firwin

        self.n_bands = m = n_bands
        taps = taps or 16 * n_bands
        cutoff = _pqmf_cutoff(m, taps, beta)
        h = firwin(taps + 1, cutoff, window=("kaiser", beta))
        n = np.arange(taps + 1) - taps / 2
        k = np.arange(m)[:, None]
        phase = (-1) ** k * np.pi / 4
        arg = (2 * k + 1) * np.pi / (2 * m) * n[None, :]
        analysis = 2 * h[None] * np.cos(arg + phase)
        synthesis = 2 * h[None] * np.cos(arg - phase)
        self.register_buffer("analysis_filters", torch.tensor(analysis, dtype=torch.float32)[:, None, :])
        self.register_buffer("synthesis_filters", torch.tensor(synthesis, dtype=torch.float32)[None])

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """Audio [B, 1, T] (T a multiple of M) -> bands [B, M, T // M]."""
        taps = self.analysis_filters.shape[-1] - 1
        y = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (taps // 2, taps // 2)), self.analysis_filters)
        return y[..., :: self.n_bands]

    def synthesis(self, bands: torch.Tensor) -> torch.Tensor:
        """Bands [B, M, T'] -> audio [B, 1, T' * M]."""
        from cadenza.nn.streaming import synthesis_kernel

        # polyphase (a stride-M transposed convolution): the centred filter of the zero-stuffed bands, M times cheaper
        n, taps = bands.shape[-1] * self.n_bands, self.synthesis_filters.shape[-1] - 1
        y = torch.nn.functional.conv_transpose1d(bands, synthesis_kernel(self.synthesis_filters), stride=self.n_bands)
        return y[..., taps - taps // 2 : taps - taps // 2 + n]


def _pqmf_cutoff(m: int, taps: int, beta: float) -> float:
    from scipy.optimize import minimize_scalar
    from scipy.signal import firwin, freqz

    def objective(cutoff: float) -> float:
        h = firwin(taps + 1, cutoff, window=("kaiser", beta))
        w, resp = freqz(h, worN=2048)
        mag2 = np.abs(resp) ** 2
        mirror = np.interp(np.pi / m - w, w, mag2)
        band = w <= np.pi / m
        return float(np.max(np.abs(mag2[band] + mirror[band] - 1)))

    res = minimize_scalar(objective, bounds=(0.2 / m, 1.5 / m), method="bounded", options={"xatol": 1e-7})
    return float(res.x)
