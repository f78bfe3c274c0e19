"""DDSP: Differentiable Digital Signal Processing (Engel et al. 2020, https://arxiv.org/abs/2001.04643).

A small recurrent decoder reads pitch (f0) and loudness per frame and drives three synthesizers: additive
harmonics, filtered noise and a learned reverb. Trained on a few minutes of one instrument with the
multi-scale spectral loss, it becomes that instrument: feed it the f0 and loudness of any monophonic
recording and it plays the melody with its own timbre (timbre transfer).

    features (f0_hz, loudness_db) [B, T] -> DDSPDecoder -> HarmonicSynth + FilteredNoise -> Reverb -> audio [B, T*hop]

Differences from the paper, for this CPU: 16 kHz, 100 frames per second (hop 160; the paper 250), a GRU of
256 units (the paper 512), and batches of 8 excerpts of 2 seconds (the paper: 32 of 4 s).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.dsp import (
    a_weighted_loudness,
    f0_track,
    hz_to_midi,
    multiscale_spectral_distance,
    normalize_loudness,
)
from cadenza.audio.synths import FilteredNoise, HarmonicSynth, Reverb
from cadenza.core.audio import AudioClip, AudioError
from cadenza.errors import InputError
from cadenza.pretrained import TRAINING_BLOCK, Pretrained
from cadenza.train.loop import TrainConfig

KIND = "ddsp"
WARMUP_FRAMES = 100  # 1 s of context before each segment when the GRU runs on segments (see DDSP.forward)


@dataclass(frozen=True)
class DDSPConfig:
    sample_rate: int = 16000
    frame_rate: int = 100
    n_harmonics: int = 60
    n_noise_bands: int = 65
    hidden: int = 256
    reverb_s: float = 1.0
    f0_method: str = "crepe-tiny"
    excerpt_s: float = 2.0
    batch_size: int = 8
    z_dim: int = 0  # > 0: an encoder adds a learned timbre code z per frame (from MFCCs), as the paper's option
    n_mfcc: int = 30

    @property
    def hop(self) -> int:
        return self.sample_rate // self.frame_rate


def mlp(n_in: int, hidden: int, n_layers: int = 3) -> nn.Sequential:
    """DDSP's fc stack: (Linear -> LayerNorm -> LeakyReLU) x n_layers."""
    layers: list[nn.Module] = []
    for i in range(n_layers):
        layers += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.LayerNorm(hidden), nn.LeakyReLU()]
    return nn.Sequential(*layers)


class ZEncoder(nn.Module):
    """The paper's optional z encoder: MFCCs per frame -> LayerNorm -> GRU -> z [B, T, z_dim]. z carries what
    f0 and loudness do not (timbre, articulation), so a model with z needs audio, not curves alone."""

    dct: torch.Tensor

    def __init__(self, cfg: DDSPConfig, hidden: int = 128) -> None:
        super().__init__()
        from scipy.fft import dct

        self.cfg = cfg
        self.register_buffer(
            "dct", torch.tensor(dct(np.eye(128), norm="ortho", axis=0)[: cfg.n_mfcc], dtype=torch.float32)
        )
        self.norm = nn.LayerNorm(cfg.n_mfcc)
        self.gru = nn.GRU(cfg.n_mfcc, hidden, batch_first=True)
        self.out = nn.Linear(hidden, cfg.z_dim)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [B, T * hop] -> z [B, T, z_dim]."""
        from cadenza.audio.dsp import mel_spectrogram

        n_frames = audio.shape[-1] // self.cfg.hop
        mel = mel_spectrogram(audio, self.cfg.sample_rate, 1024, self.cfg.hop, 128)[..., :n_frames]
        mfcc = torch.einsum("cm,bmt->btc", self.dct, torch.log(mel + 1e-5))
        h, _ = self.gru(self.norm(mfcc))
        return self.out(h)


class DDSPDecoder(nn.Module):
    """f0 and loudness per frame -> raw synth controls (the paper's RNN-FC decoder).

    Pitch enters as MIDI / 127, loudness as dB standardized by the training set's statistics (buffers, so
    they travel with the weights).
    """

    loudness_stats: torch.Tensor

    def __init__(self, cfg: DDSPConfig) -> None:
        super().__init__()
        h = cfg.hidden
        self.f0_mlp, self.loudness_mlp = mlp(1, h), mlp(1, h)
        self.z_mlp = mlp(cfg.z_dim, h) if cfg.z_dim else None
        self.gru = nn.GRU((3 if cfg.z_dim else 2) * h, h, batch_first=True)
        self.out_mlp = mlp(h + 2, h)
        self.to_harmonic = nn.Linear(h, 1 + cfg.n_harmonics)
        self.to_noise = nn.Linear(h, cfg.n_noise_bands)
        self.register_buffer("loudness_stats", torch.tensor([-40.0, 15.0]))  # mean, std (dB)

    def forward(
        self,
        f0_hz: torch.Tensor,
        loudness_db: torch.Tensor,
        z: torch.Tensor | None = None,
        state: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """f0_hz, loudness_db [B, T] (and z [B, T, z_dim]) -> (amplitude [B, T, 1], harmonics [B, T, H],
        noise [B, T, bands], state)."""
        pitch = ((69 + 12 * torch.log2(f0_hz.clamp_min(1.0) / 440.0)) / 127.0)[..., None]  # MIDI / 127
        loud = ((loudness_db - self.loudness_stats[0]) / self.loudness_stats[1])[..., None]
        parts = [self.f0_mlp(pitch), self.loudness_mlp(loud)]
        if self.z_mlp is not None:
            if z is None:
                raise ValueError("this DDSP model has a z encoder: it needs the audio, not only f0 and loudness")
            parts.append(self.z_mlp(z))
        x = torch.cat(parts, -1)
        x, state = self.gru(x, state)
        x = self.out_mlp(torch.cat([x, pitch, loud], -1))
        harm = self.to_harmonic(x)
        return harm[..., :1], harm[..., 1:], self.to_noise(x), state


class DDSP(Pretrained, nn.Module):
    """Decoder + harmonic synth + filtered noise + reverb: features -> audio."""

    kind: ClassVar[str] = KIND
    config_cls: ClassVar[type] = DDSPConfig
    shipped: ClassVar[str | None] = "ddsp-violin"
    cfg: DDSPConfig

    def __init__(self, cfg: DDSPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.decoder = DDSPDecoder(cfg)
        self.harmonic = HarmonicSynth(cfg.sample_rate, cfg.hop, cfg.n_harmonics)
        self.noise = FilteredNoise(cfg.hop, cfg.n_noise_bands)
        self.reverb = Reverb(cfg.sample_rate, cfg.reverb_s)
        self.encoder = ZEncoder(cfg) if cfg.z_dim else None

    def forward(
        self,
        f0_hz: torch.Tensor,
        loudness_db: torch.Tensor,
        generator: torch.Generator | None = None,
        audio: torch.Tensor | None = None,
        segment_frames: int | None = None,
    ) -> torch.Tensor:
        """f0_hz, loudness_db [B, T] (and, with a z encoder, the audio [B, T * hop]) -> audio [B, T * hop].

        Args:
            segment_frames: run the decoder's GRU on segments of this many frames as one batch, each after
                `WARMUP_FRAMES` frames of the controls before it (for long inputs on a CPU: far fewer sequential
                steps). The synths still run on the whole. None: one pass, exactly as in training.
        """
        z = None
        if self.encoder is not None:
            if audio is None:
                raise ValueError("this DDSP model has a z encoder: it needs the audio, not only f0 and loudness")
            z = self.encoder(audio)
        if segment_frames and f0_hz.shape[0] == 1 and f0_hz.shape[1] > 2 * segment_frames:
            amp, harm, noise = self._decode_segments(f0_hz, loudness_db, z, segment_frames)
        else:
            amp, harm, noise, _ = self.decoder(f0_hz, loudness_db, z)
        harmonic = self.harmonic.get_signal(**self.harmonic.get_controls(amp, harm, f0_hz[..., None]))
        noisy = self.noise.get_signal(**self.noise.get_controls(noise), generator=generator)
        return self.reverb(harmonic + noisy)

    def _decode_segments(
        self, f0_hz: torch.Tensor, loudness_db: torch.Tensor, z: torch.Tensor | None, seg: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t = f0_hz.shape[1]
        starts = list(range(0, t, seg))
        span = seg + WARMUP_FRAMES

        def windows(x: torch.Tensor) -> torch.Tensor:  # [1, T, ...] -> [S, span, ...], left-padded by repetition
            pad = torch.cat([x[:, :1].expand(1, WARMUP_FRAMES, *x.shape[2:]), x,
                             x[:, -1:].expand(1, seg, *x.shape[2:])], 1)  # fmt: skip
            return torch.cat([pad[:, s : s + span] for s in starts], 0)

        amp, harm, noise, _ = self.decoder(windows(f0_hz), windows(loudness_db), windows(z) if z is not None else None)

        def join(x: torch.Tensor) -> torch.Tensor:  # [S, span, C] -> [1, T, C] without the warm-up frames
            return x[:, WARMUP_FRAMES:].reshape(1, -1, x.shape[-1])[:, :t]

        return join(amp), join(harm), join(noise)


# ------------------------------------------------------------------------------------------------ features


@dataclass
class Features:
    """Audio with its f0 and loudness at the model's frame rate (audio cropped to a whole number of frames)."""

    audio: np.ndarray  # [N]
    f0_hz: np.ndarray  # [T]
    confidence: np.ndarray  # [T]
    loudness_db: np.ndarray  # [T]


def extract_features(clip: AudioClip, cfg: DDSPConfig, f0_method: str | None = None) -> Features:
    """Mono audio at the model's rate -> Features (f0 by `f0_method`, default the model's)."""
    if clip.sample_rate != cfg.sample_rate:
        raise AudioError(f"audio at {clip.sample_rate} Hz; the model runs at {cfg.sample_rate} Hz")
    clip = clip.mono()
    n_frames = clip.n_samples // cfg.hop
    if n_frames < 10:
        raise AudioError(f"audio too short ({clip.duration_s:.2f} s)")
    audio = clip.samples[0, : n_frames * cfg.hop]
    f0, conf = f0_track(AudioClip(audio, clip.sample_rate), cfg.frame_rate, f0_method or cfg.f0_method)
    loud = a_weighted_loudness(audio, cfg.sample_rate, cfg.frame_rate).numpy()
    return Features(audio, f0, conf, loud.astype(np.float32))


def dataset_features(folder: str | Path, split: str, cfg: DDSPConfig, cache_dir: str | Path | None = None,
                     progress: bool = True) -> list[Features]:  # fmt: skip
    """Features of every clip of one split of a dataset folder, cached as .npz under `cache_dir`."""
    from cadenza.audio.datasets import read_manifest
    from cadenza.io.audio import read_audio

    entries = read_manifest(folder, split)
    out: list[Features] = []
    for e in tqdm(entries, desc=f"features {split}", unit="clip", disable=not progress):
        path = Path(folder) / e["file"]
        cached = None
        if cache_dir is not None:
            key = hashlib.sha1(f"{path.resolve()}:{path.stat().st_mtime_ns}:{cfg.f0_method}:{cfg.frame_rate}".encode())
            cached = Path(cache_dir) / f"{key.hexdigest()[:16]}.npz"
            if cached.exists():
                z = np.load(cached)
                out.append(Features(z["audio"], z["f0_hz"], z["confidence"], z["loudness_db"]))
                continue
        feats = extract_features(read_audio(path, sample_rate=cfg.sample_rate, mono=True), cfg)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npz")
            np.savez(tmp, **asdict(feats))
            tmp.replace(cached)
        out.append(feats)
    if not out:
        raise InputError(folder, f"the dataset has no {split} clips")
    return out


class ExcerptBatches:
    """Random excerpts of `excerpt_s` seconds; the batch of a step depends only on (seed, step, rank)."""

    def __init__(self, feats: list[Features], cfg: DDSPConfig, seed: int = 0, source: str = "dataset") -> None:
        self.feats, self.cfg, self.seed = feats, cfg, seed
        self.n_frames = round(cfg.excerpt_s * cfg.frame_rate)
        lengths = np.array([len(f.f0_hz) for f in feats])
        usable = np.maximum(lengths - self.n_frames, 0)
        if usable.sum() == 0:
            raise InputError(source, f"every clip is shorter than the {cfg.excerpt_s} s training excerpt")
        self.weights = usable / usable.sum()

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, rank])
        hop, t = self.cfg.hop, self.n_frames
        audio, f0, loud = [], [], []
        for i in rng.choice(len(self.feats), self.cfg.batch_size, p=self.weights):
            f = self.feats[i]
            s = int(rng.integers(0, len(f.f0_hz) - t))
            audio.append(f.audio[s * hop : (s + t) * hop])
            f0.append(f.f0_hz[s : s + t])
            loud.append(f.loudness_db[s : s + t])
        return {"audio": torch.tensor(np.stack(audio)), "f0_hz": torch.tensor(np.stack(f0)),
                "loudness_db": torch.tensor(np.stack(loud))}  # fmt: skip


def ddsp_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    out = model(batch["f0_hz"], batch["loudness_db"], audio=batch["audio"])
    return multiscale_spectral_distance(out, batch["audio"])


# ------------------------------------------------------------------------------------------------ train, save


def train_ddsp(
    data_dir: str | Path,
    out_dir: str | Path,
    cfg: DDSPConfig,
    tc: TrainConfig,
    *,
    progress: bool = True,
    new_segment: bool = False,
) -> tuple[DDSP, dict[str, Any]]:
    """Train on the train split of a dataset folder (see `cadenza data render`); resumes from `out_dir`.

    Returns:
        the model and its figures (validation multi-scale spectral distance on whole clips).
    """
    from cadenza.train.loop import train

    out = Path(out_dir)
    train_feats = dataset_features(data_dir, "train", cfg, out / "features", progress=progress)
    valid_feats = dataset_features(data_dir, "valid", cfg, out / "features", progress=progress)
    torch.manual_seed(tc.seed)  # the initial weights: a run is repeatable from its seed
    model = DDSP(cfg)
    loud = np.concatenate([f.loudness_db for f in train_feats])
    model.decoder.loudness_stats.copy_(torch.tensor([loud.mean(), loud.std() + 1e-3]))
    batches = ExcerptBatches(train_feats, cfg, seed=tc.seed, source=str(data_dir))

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"valid/spectral": evaluate_resynthesis(m, valid_feats[:8], reanalyse=False)["spectral_distance"]}

    result = train(model, batches, ddsp_loss, tc, out_dir=out, eval_fn=eval_fn, model_config=asdict(cfg),
                   progress=progress, new_segment=new_segment)  # fmt: skip
    model.extra = {"segments": result.segments}
    model.eval()
    figures = {k: v for k, v in evaluate_resynthesis(model, valid_feats).items()}
    figures.update(train_seconds=round(result.seconds, 1), steps=result.step,
                   train_minutes_of_audio=round(sum(len(f.audio) for f in train_feats) / cfg.sample_rate / 60, 2),
                   mean_f0_midi=float(np.median(hz_to_midi(np.concatenate([f.f0_hz for f in train_feats])))),
                   mean_loudness_db=float(loud.mean()))  # fmt: skip
    return model, figures


CARD = (
    """# DDSP {instrument} (cadenza)

Differentiable Digital Signal Processing (Engel et al. 2020): a GRU decoder reads f0 (CREPE {f0}) and A-weighted
loudness at {frame_rate} frames/s and drives {n_harmonics} harmonics, {n_bands} bands of filtered noise and a
learned {reverb} s reverb, at {sample_rate} Hz. Trained with the multi-scale spectral loss on
{minutes:.1f} minutes of the train split of `{data}` (rendered with FluidSynth from corpus pieces).

- Config: `{config}`
"""
    + TRAINING_BLOCK
    + """
`spectral_distance` is the training loss (the DDSP multi-scale spectral distance, FFT 2048..64) between each clip
and its resynthesis from its own f0 and loudness; `f0_error_cents` is the median |cents| between CREPE on the
clip and CREPE on the resynthesis (confident frames), `f0_outliers` the share above 50 cents, and
`loudness_error_db` the mean |dB| of A-weighted loudness (frames above -60 dB).

    cadenza ddsp transfer voice.wav -o violin.wav          # this model is the default
"""
)


# ------------------------------------------------------------------------------------------------ use


@torch.no_grad()
def synthesize(
    model: DDSP,
    f0_hz: np.ndarray,
    loudness_db: np.ndarray,
    seed: int = 0,
    audio: np.ndarray | None = None,
    segment_frames: int | None = 500,
) -> AudioClip:
    """Play f0 and loudness curves [T] through the model; returns mono audio of T * hop samples. A model with a
    z encoder also takes the `audio` [T * hop] the curves came from. `segment_frames`: see `DDSP.forward`
    (None for the exact single pass, as the evaluation uses)."""
    g = torch.Generator().manual_seed(seed)
    f0 = torch.as_tensor(np.asarray(f0_hz, np.float32))[None]
    loud = torch.as_tensor(np.asarray(loudness_db, np.float32))[None]
    source = torch.as_tensor(np.asarray(audio, np.float32))[None] if audio is not None else None
    out = model(f0, loud, generator=g, audio=source, segment_frames=segment_frames)[0].numpy()
    peak = float(np.abs(out).max())
    if peak > 0.99:  # a transfer driven louder than anything in training can overshoot; keep the file valid
        out = out * (0.99 / peak)
    return AudioClip(out, model.cfg.sample_rate)


MIN_TRANSFER_S = 0.5  # shorter inputs gave a blip: CREPE and the 1 s reverb need context


@dataclass
class TransferPlan:
    """What `timbre_transfer` did to the input's curves, to print for the user."""

    pitch_shift: float
    loudness_shift_db: float
    quiet_frames: float


def timbre_transfer(
    model: DDSP,
    clip: AudioClip,
    *,
    pitch_shift: float | None = None,
    loudness_shift_db: float | None = None,
    f0_method: str | None = None,
    confidence_threshold: float = 0.5,
    figures: dict[str, Any] | None = None,
    match_level: bool = True,
) -> tuple[AudioClip, TransferPlan, Features]:
    """Play a monophonic recording with the model's instrument.

    As in DDSP's timbre-transfer demo: by default the pitch moves by whole octaves towards the training
    data's median pitch, and the loudness of confidently pitched frames is shifted to the training mean;
    frames where the pitch tracker is unsure are turned down by 20 dB, so breaths and noise stay quiet.

    Args:
        clip: mono (or mixed down) audio at the model's sample rate.
        pitch_shift: semitones; None chooses octaves automatically.
        loudness_shift_db: dB; None matches the training loudness.
        figures: the model's figures (median pitch and mean loudness of its data) for the automatic shifts.
        match_level: scale the output to the input's loudness (its sounding frames), so a transfer keeps the level
            of what it was given (without it, a trumpet came out 11 dB louder than it went in).

    Raises:
        AudioError: the clip has no pitched frame.
    """
    if clip.duration_s < MIN_TRANSFER_S:
        raise AudioError(f"audio too short ({clip.duration_s:.2f} s): timbre transfer needs at least "
                         f"{MIN_TRANSFER_S:g} s")  # fmt: skip
    feats = extract_features(clip, model.cfg, f0_method)
    voiced = feats.confidence >= confidence_threshold
    if voiced.sum() < 5:
        raise AudioError("no pitched sound found (the pitch tracker is unsure everywhere): is it silence or noise?")
    figures = figures or {}
    if pitch_shift is None:
        target = figures.get("mean_f0_midi", 67.0)
        median = float(np.median(hz_to_midi(feats.f0_hz[voiced])))
        pitch_shift = 12.0 * round((target - median) / 12.0)
    if loudness_shift_db is None:
        target_db = figures.get("mean_loudness_db", -40.0)
        loudness_shift_db = float(target_db - feats.loudness_db[voiced].mean()) + 6.0  # training mean counts rests
    f0 = feats.f0_hz * 2 ** (pitch_shift / 12)
    loud = feats.loudness_db + loudness_shift_db - 20.0 * (~voiced)
    out = synthesize(model, f0, loud, audio=feats.audio)
    if match_level:  # the model plays at its training loudness; the file comes out at the input's
        out = normalize_loudness(out, source_loudness_db(clip))
    return out, TransferPlan(pitch_shift, loudness_shift_db, float(1 - voiced.mean())), feats


def source_loudness_db(clip: AudioClip, floor_db: float = -60.0) -> float:
    """Mean A-weighted loudness of a clip's sounding frames (above `floor_db`): the level a transfer keeps."""
    loud = a_weighted_loudness(clip.mono().samples[0], clip.sample_rate).numpy()
    sounding = loud[loud > floor_db]
    if len(sounding) == 0:
        raise AudioError("the audio is silent")
    return float(sounding.mean())


@torch.no_grad()
def evaluate_resynthesis(model: nn.Module, feats: list[Features], *, reanalyse: bool = True) -> dict[str, float]:
    """The DDSP paper's resynthesis measures on held-out clips: multi-scale spectral distance to the original;
    with `reanalyse`, the f0 error in cents (frames where CREPE is confident in the original) and the loudness
    error in dB (frames louder than -60 dB) between the original and the re-analysed output."""
    cfg: DDSPConfig = model.cfg  # type: ignore[assignment]
    spectral, cents, loud_err = [], [], []
    for f in feats:
        out = synthesize(model, f.f0_hz, f.loudness_db, audio=f.audio, segment_frames=None)  # type: ignore[arg-type]
        spectral.append(float(multiscale_spectral_distance(torch.tensor(out.samples[0]), torch.tensor(f.audio))))
        if reanalyse:
            g = extract_features(out, cfg)
            mask = f.confidence >= 0.5
            if mask.any():
                cents.append(np.abs(1200 * np.log2(g.f0_hz[mask] / f.f0_hz[mask])))
            loud_mask = f.loudness_db > -60
            loud_err.append(np.abs(g.loudness_db[loud_mask] - f.loudness_db[loud_mask]))
    result = {"spectral_distance": float(np.mean(spectral))}
    if reanalyse:
        c = np.concatenate(cents)
        result.update(f0_error_cents=float(np.median(c)), f0_outliers=float((c > 50).mean()),
                      loudness_error_db=float(np.concatenate(loud_err).mean()))  # fmt: skip
    return result
