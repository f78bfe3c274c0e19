"""The Sound Model Factory (Wyse, Kamath & Gupta 2022, https://arxiv.org/abs/2206.13085): a playable sound model
made from data in four stages.

1. A GAN learns the texture from short windows, conditioned on its parameter (GANSynth's networks, magnitude only,
   with a regressed parameter instead of a one-hot pitch: `GANSynthConfig(n_params=1)`).
2. A self-organizing map is fitted on the GAN's input space (latent and parameter): its nodes are smoothed latents,
   neighbours on the grid sound alike, and the grid direction along which the parameter grows is the control axis.
   The control path runs along that axis; a control value in [0, 1] is a point on it (the paper's "smoothing" of
   the latent space; benchmarks/smf.py measures it against raw latent interpolation, and here it is not smoother).
3. The GAN makes a densely labelled data set along the path: many short clips at many control values.
4. A recurrent network learns to make sound from the control alone, frame by frame (NoiseBandNet's GRU driving a
   bank of noise bands at 250 frames/s), so the model answers a moving control at once and plays for any length.

    sm = SoundModel.from_pretrained("smf-wind")
    clip = sm.play(curve)                         # curve: control values in [0, 1] at sm.frame_rate
    stream = sm.stream(); block = stream.step(0.3, frames=25)   # live: one control value per block

What is shipped is the recurrent model, the path and the GAN's generator (to hear the path itself).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.gansynth import GANSynthConfig, GANSynthTrainer, Generator, SpectralIF
from cadenza.audio.noisebandnet import NoiseBandConfig, NoiseBandNet
from cadenza.core.audio import AudioClip
from cadenza.errors import InputError
from cadenza.pretrained import TRAINING_BLOCK, Pretrained

KIND = "smf"


def gan_config(**changes: Any) -> GANSynthConfig:
    """The texture GAN: 1.02 s windows at 16 kHz as 64 frames x 256 bins of log magnitude (n_fft 512, hop 256; a
    texture's phase is noise, so no IF channel: Griffin-Lim makes the audio), one continuous parameter."""
    base: dict[str, Any] = dict(n_fft=512, hop=256, frames=64, latent_dim=64, channels=(128, 128, 64, 32, 16, 8),
                                if_channel=False, n_params=1)  # fmt: skip
    return GANSynthConfig(**{**base, **changes})


# ------------------------------------------------------------------------------------------------ stage 1: data


def texture_clips(folder: str | Path, split: str, kind: str) -> tuple[list[np.ndarray], list[np.ndarray], str, int]:
    """(audio clips at 16 kHz, their parameter curves, the parameter's name, the curves' rate in Hz) of one texture
    kind in a texture dataset (`cadenza data textures`).

    Raises:
        InputError: the folder is not a texture dataset, has no clips of that kind in the split, or the kind has more
            than one parameter (the control is one value).
    """
    from cadenza.audio.synthformer_train import texture_entries
    from cadenza.io.audio import read_audio

    entries = [e for e in texture_entries(folder) if e["kind"] == kind]
    if not entries:
        kinds = sorted({e["kind"] for e in texture_entries(folder)})
        raise InputError(folder, f"has no {kind!r} clips (kinds: {', '.join(kinds)})")
    entries = [e for e in entries if e["split"] == split]
    if not entries:
        raise InputError(folder, f"has no {split} clips of {kind!r}")
    names = list(entries[0]["params"])
    if len(names) != 1:
        raise InputError(folder, f"{kind!r} has {len(names)} parameters; the Sound Model Factory's control is one")
    audio, curves = [], []
    for e in entries:
        x = read_audio(Path(folder) / e["file"], sample_rate=16000, mono=True).samples[0]
        if not np.isfinite(x).all():
            raise InputError(Path(folder) / e["file"], "holds NaN or infinite samples")
        audio.append(x)
        curves.append(np.asarray(e["params"][names[0]], dtype=np.float32))
    return audio, curves, names[0], int(entries[0].get("param_rate", 20))


def texture_windows(audio: list[np.ndarray], curves: list[np.ndarray], rate: int, cfg: GANSynthConfig
                    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Windows of the GAN's length (half overlapping) as features (float16 [N, 1, frames, bins]) and each window's
    mean parameter ([N, 1])."""
    spec = SpectralIF(cfg)
    n, hop = cfg.n_samples, cfg.n_samples // 2
    wins, params = [], []
    for x, c in zip(audio, curves, strict=True):
        for s in range(0, len(x) - n + 1, hop):
            wins.append(x[s : s + n])
            lo, hi = int(s / cfg.sample_rate * rate), max(int((s + n) / cfg.sample_rate * rate), 1)
            params.append(float(c[lo : hi + 1].mean()))
    feats = []
    with torch.no_grad():
        for i in range(0, len(wins), 64):
            feats.append(spec(torch.from_numpy(np.stack(wins[i : i + 64])).float()).half())
    return torch.cat(feats), torch.tensor(params, dtype=torch.float32)[:, None]


# ------------------------------------------------------------------------------------------------ stage 2: SOM


@dataclass
class SOM:
    """A self-organizing map (Kohonen): a rows x cols grid of nodes in the data's space, each pulled towards the
    samples it and its grid neighbours win, with a Gaussian neighbourhood that shrinks over training."""

    rows: int
    cols: int
    nodes: np.ndarray = field(repr=False)  # [rows * cols, dim]

    @classmethod
    def fit(cls, data: np.ndarray, rows: int = 10, cols: int = 10, epochs: int = 20, seed: int = 0) -> SOM:
        """Batch SOM: every epoch, each node becomes the neighbourhood-weighted mean of the samples; the
        neighbourhood radius falls from half the grid to 0.5 node. Initialized on the data's first two principal
        axes (so the fit is deterministic and ordered from the start)."""
        rng = np.random.default_rng(seed)
        mu = data.mean(0)
        _, s, vt = np.linalg.svd(data - mu, full_matrices=False)
        gy, gx = np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols), indexing="ij")
        scale = s[:2] / math.sqrt(len(data))
        nodes = mu + gy.reshape(-1, 1) * scale[0] * vt[0] + gx.reshape(-1, 1) * scale[1] * vt[1]
        nodes += 1e-3 * rng.standard_normal(nodes.shape)
        grid = np.stack([gy.reshape(-1) * (rows - 1) / 2, gx.reshape(-1) * (cols - 1) / 2], 1)
        d2 = ((grid[:, None] - grid[None]) ** 2).sum(-1)  # squared grid distances between nodes
        start = max(rows, cols) / 2
        for e in range(epochs):
            radius = start * (0.5 / start) ** (e / max(epochs - 1, 1))
            win = cls._winners(nodes, data)
            h = np.exp(-d2 / (2 * radius**2))[:, win]  # [nodes, samples]
            nodes = (h @ data) / h.sum(1, keepdims=True).clip(1e-9)
        return cls(rows, cols, nodes.astype(np.float32))

    @staticmethod
    def _winners(nodes: np.ndarray, data: np.ndarray) -> np.ndarray:
        d = (data**2).sum(1)[:, None] - 2 * data @ nodes.T + (nodes**2).sum(1)[None]
        return d.argmin(1)

    def grid(self) -> np.ndarray:
        """[rows, cols, dim]."""
        return self.nodes.reshape(self.rows, self.cols, -1)


def sound_features(feats: torch.Tensor, bands: int = 32) -> np.ndarray:
    """What the SOM compares: a window's log magnitude [B, 1, frames, bins] pooled into `bands` bands, mean and
    standard deviation over time -> [B, 2 * bands]."""
    m = feats[:, 0]
    b, t, k = m.shape
    pooled = m[..., : k // bands * bands].reshape(b, t, bands, k // bands).mean(-1)
    return torch.cat([pooled.mean(1), pooled.std(1)], -1).numpy()


def fit_latent_som(gen: Generator, n: int = 3000, rows: int = 10, cols: int = 10, seed: int = 0
                   ) -> tuple[SOM, np.ndarray]:  # fmt: skip
    """Stage 2: draw `n` points of the GAN's input space (latent, parameter uniform in [0, 1]), fit a SOM on what
    the generator makes of them (`sound_features`, standardized) and their parameter, and give every node the input
    of the sample nearest to it (its medoid).

    Returns:
        (the SOM, each node's input [nodes, latent + 1])."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, gen.cfg.latent_dim, generator=g)
    c = torch.rand(n, gen.cfg.n_params, generator=g)
    with torch.no_grad():
        feats = np.concatenate([sound_features(gen(z[i : i + 64], c[i : i + 64])) for i in range(0, n, 64)])
    x = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    # the designer's label is part of the navigation (the paper's "data labels"): the parameter joins the sound's
    # features with half their total variance, so one grid direction follows it
    cn = c.numpy()
    x = np.concatenate([x, math.sqrt(x.shape[1] / 2) * (cn - cn.mean(0)) / (cn.std(0) + 1e-6)], 1)
    som = SOM.fit(x, rows, cols, seed=seed)
    inputs = torch.cat([z, c], 1).numpy()
    d = (x**2).sum(1)[None] - 2 * som.nodes @ x.T + (som.nodes**2).sum(1)[:, None]  # [nodes, samples]
    return som, inputs[d.argmin(1)]


def parameter_path(som: SOM, node_inputs: np.ndarray) -> np.ndarray:
    """The control path: the SOM's row or column (whichever direction the nodes' parameter changes along most)
    through the grid's centre, ordered from the lowest parameter to the highest; [n, latent + 1] of the nodes'
    medoid inputs."""
    p = node_inputs[:, -1].reshape(som.rows, som.cols)
    along_cols = float(np.abs(np.diff(p, axis=1)).mean())
    along_rows = float(np.abs(np.diff(p, axis=0)).mean())
    grid = node_inputs.reshape(som.rows, som.cols, -1)
    line = grid[som.rows // 2] if along_cols >= along_rows else grid[:, som.cols // 2]
    if line[0, -1] > line[-1, -1]:
        line = line[::-1]
    return np.ascontiguousarray(line, dtype=np.float32)


def along(path: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Points at positions u in [0, 1] along a path of nodes [n, latent + 1] -> [len(u), latent + 1]: the latent
    interpolated spherically between neighbouring nodes (the generator normalizes its latent, so only the
    direction counts), the parameter linearly."""
    pos = np.clip(np.asarray(u, dtype=np.float64), 0, 1) * (len(path) - 1)
    i = np.minimum(pos.astype(int), len(path) - 2)
    w = (pos - i)[:, None]
    a, b = path[i], path[i + 1]
    za, zb = a[:, :-1], b[:, :-1]
    na, nb = np.linalg.norm(za, axis=1, keepdims=True), np.linalg.norm(zb, axis=1, keepdims=True)
    omega = np.arccos(np.clip((za * zb).sum(1, keepdims=True) / (na * nb + 1e-12), -1, 1))
    so = np.sin(omega)
    safe = so > 1e-6
    wa = np.where(safe, np.sin((1 - w) * omega) / np.where(safe, so, 1), 1 - w)
    wb = np.where(safe, np.sin(w * omega) / np.where(safe, so, 1), w)
    z = wa * za + wb * zb
    p = a[:, -1:] * (1 - w) + b[:, -1:] * w
    return np.concatenate([z, p], 1).astype(np.float32)


# ------------------------------------------------------------------------------------------------ stage 4: model


@dataclass(frozen=True)
class SoundModelConfig:
    texture: str = "wind"
    param: str = "strength"  # the texture's parameter that the GAN was conditioned on
    gan: dict[str, Any] = field(default_factory=lambda: asdict(gan_config()))
    rnn: dict[str, Any] = field(default_factory=lambda: asdict(NoiseBandConfig()))
    path_points: int = 10


class SoundModel(Pretrained, nn.Module):
    """The playable model: the recurrent network that makes sound from the control, the control path through the
    GAN's SOM-smoothed latent space, and the GAN's generator."""

    kind: ClassVar[str] = KIND
    config_cls: ClassVar[type] = SoundModelConfig
    shipped: ClassVar[str | None] = "smf-wind"
    cfg: SoundModelConfig
    path: torch.Tensor

    def __init__(self, cfg: SoundModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.gan.items()}
        gcfg = GANSynthConfig(**fields)
        self.gan_cfg = gcfg
        self.generator = Generator(gcfg)
        self.spec = SpectralIF(gcfg)
        self.rnn = NoiseBandNet(NoiseBandConfig(**cfg.rnn), n_controls=1)
        self.register_buffer("path", torch.zeros(cfg.path_points, gcfg.latent_dim + gcfg.n_params))

    @property
    def sample_rate(self) -> int:
        return self.rnn.cfg.sample_rate

    @property
    def frame_rate(self) -> int:
        return self.rnn.cfg.frame_rate

    @torch.no_grad()
    def gan_along_path(self, u: np.ndarray, jitter: float = 0.0, seed: int = 0,
                       griffin_lim_iters: int = 32) -> np.ndarray:  # fmt: skip
        """The GAN's windows [len(u), samples] at control values u along the path (latents jittered by `jitter`
        times a standard normal, for variety)."""
        pts = torch.from_numpy(along(self.path.numpy(), np.asarray(u, dtype=np.float32))).float()
        d = self.gan_cfg.latent_dim
        z, c = pts[:, :d], pts[:, d:].clamp(0, 1)
        if jitter:
            g = torch.Generator().manual_seed(seed)
            z = z + jitter * torch.randn(z.shape, generator=g)
        out = []
        for i in range(0, len(z), 32):
            feats = self.generator(z[i : i + 32], c[i : i + 32])
            out.append(self.spec.inverse(feats, griffin_lim_iters))
        return torch.cat(out).numpy()

    @torch.no_grad()
    def play(self, curve: np.ndarray, seed: int = 0) -> AudioClip:
        """Control values in [0, 1], one per frame (`frame_rate` a second) -> audio."""
        curve = np.asarray(curve, dtype=np.float32)
        if curve.ndim != 1 or len(curve) < 2:
            raise InputError("curve", f"needs at least two control values, got shape {curve.shape}")
        offset = int(np.random.default_rng(seed).integers(0, self.rnn.cfg.noise_length))
        y = self.rnn(torch.from_numpy(curve)[None, :, None], offset=offset)[0].numpy()
        return AudioClip(y[None], self.sample_rate).limit_peak(-1.0)

    def stream(self, seed: int = 0) -> SoundStream:
        return SoundStream(self, seed)


class SoundStream:
    """Live play: each call takes the control's current value and returns the next block of audio, carrying the
    recurrent state and the place in the noise bands, so blocks join without a seam. A frame's sound ramps from its
    band amplitudes to the next frame's, so each block holds back its last frame until the next call: the stream
    is the offline output of the same control values, one frame (4 ms at 250 frames/s) late, plus the block."""

    def __init__(self, model: SoundModel, seed: int = 0) -> None:
        self.model = model
        self.state: torch.Tensor | None = None
        self.offset = int(np.random.default_rng(seed).integers(0, model.rnn.cfg.noise_length))
        self.last: torch.Tensor | None = None  # the band amplitudes of the frame held back

    @torch.no_grad()
    def step(self, value: float, frames: int = 25) -> np.ndarray:
        """`frames` frames at a control `value` in [0, 1] -> audio (frames x hop samples; one frame less on the
        first call)."""
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise InputError("control", f"{value} is outside [0, 1]")
        rnn = self.model.rnn
        raw, self.state = rnn.synth_controls(torch.full((1, frames, 1), float(value)), self.state)
        amps = rnn.synth.get_controls(raw)["amplitudes"]
        seq = amps if self.last is None else torch.cat([self.last, amps], 1)
        y = rnn.synth.get_signal(seq, offset=self.offset)[0, : -rnn.cfg.hop]  # type: ignore[call-arg]
        self.last = amps[:, -1:]
        self.offset += len(y)
        return y.numpy()


# ------------------------------------------------------------------------------------------------ building


def control_curve_csv(path: str | Path, frame_rate: int) -> np.ndarray:
    """A drawn control: a CSV of `time_s,value` rows (`cadenza.io.curves`), values in [0, 1]; interpolated to
    `frame_rate` values a second.

    Raises:
        InputError: not such a CSV, a NaN, or a value outside [0, 1] (naming the line).
    """
    from cadenza.io.curves import read_curve_csv, resample_curve

    times, values, lines = read_curve_csv(path, ("time_s", "value"))
    bad = np.nonzero((values[:, 0] < 0) | (values[:, 0] > 1))[0]
    if len(bad):
        i = int(bad[0])
        raise InputError(path, f"line {lines[i]}: control value {values[i, 0]:g} is outside [0, 1]")
    return resample_curve(times, values, frame_rate)[:, 0]


def train_texture_gan(data: str | Path, kind: str, out_dir: str | Path, tc: Any, *, cfg: GANSynthConfig | None = None,
                      batch_size: int = 16, gp_every: int = 4, progress: bool = True
                      ) -> tuple[Generator, dict[str, Any], str]:  # fmt: skip
    """Stage 1: the GAN on one texture's windows (train split), resumable in `out_dir`. Every evaluation makes
    windows at 9 parameter values and reports how well an independent probe reads the parameter back (correlation).
    Returns (the trained generator, figures, the parameter's name)."""
    from cadenza.audio.gansynth_train import DISC_GROUP, NoteBatches, gansynth_loss
    from cadenza.evaluate.param_probe import Probe, curve_windows, probe_features
    from cadenza.train.loop import train

    cfg = cfg or gan_config()
    audio, curves, name, rate = texture_clips(data, "train", kind)
    feats, params = texture_windows(audio, curves, rate, cfg)
    probe_x = [probe_features(x, cfg.sample_rate) for x in audio[:60]]
    probe = Probe(
        np.concatenate(probe_x),
        np.concatenate([curve_windows(c, rate, len(f)) for c, f in zip(curves, probe_x, strict=False)]),
    )
    torch.manual_seed(tc.seed)  # the initial weights: a run is repeatable from its seed
    trainer = GANSynthTrainer(cfg, gp_every=gp_every)
    if not any(g.prefix == DISC_GROUP.prefix for g in tc.groups):
        raise ValueError("the training config needs the discriminator's group (DISC_GROUP)")
    asked = np.linspace(0, 1, 9, dtype=np.float32)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"valid/probe_r": gan_following(trainer.model.generator, trainer.model.spec, probe, asked)}

    result = train(trainer, NoteBatches(feats, params, batch_size, cfg.latent_dim, tc.seed), gansynth_loss, tc,
                   out_dir=out_dir, eval_fn=eval_fn, progress=progress,
                   model_config={"model": asdict(cfg), "batch_size": batch_size, "gp_every": gp_every,
                                 "data": str(data), "texture": kind})  # fmt: skip
    gen = trainer.model.generator.eval()
    figures = {"gan_steps": result.step, "gan_train_windows": len(feats), "gan_train_seconds": round(result.seconds, 1),
               "gan_probe_r": round(gan_following(gen, trainer.model.spec, probe, asked), 3)}  # fmt: skip
    return gen, figures, name


@torch.no_grad()
def gan_following(gen: Generator, spec: SpectralIF, probe: Any, asked: np.ndarray, per: int = 4) -> float:
    """Correlation between parameters asked of the GAN (`per` random latents each) and the probe's reading of the
    windows it made."""
    from cadenza.evaluate.param_probe import probe_features

    was = gen.training
    gen.eval()
    g = torch.Generator().manual_seed(1234)
    c = torch.from_numpy(np.repeat(asked, per)).float()[:, None]
    z = torch.randn(len(c), gen.cfg.latent_dim, generator=g)
    audio = spec.inverse(gen(z, c), 16).numpy()
    got = np.array([probe(probe_features(x, spec.cfg.sample_rate)).mean() for x in audio])
    gen.train(was)
    return float(np.corrcoef(got, c[:, 0].numpy())[0, 1])


def gan_play(model: SoundModel, curve: np.ndarray, jitter: float = 0.3, seed: int = 0) -> np.ndarray:
    """The GAN itself following a control curve (values at the recurrent model's frame rate): a window every half
    window at the curve's value there (latent jittered for variety), overlap-added with a periodic Hann window
    (whose half-overlapped copies sum to one) -> audio [len(curve) * hop]."""
    gcfg, frame_hop = model.gan_cfg, model.rnn.cfg.hop
    n, hop = gcfg.n_samples, gcfg.n_samples // 2
    total = len(curve) * frame_hop
    starts = np.arange(-hop, total, hop)
    centres = np.clip((starts + n // 2) // frame_hop, 0, len(curve) - 1)
    wins = model.gan_along_path(curve[centres], jitter=jitter, seed=seed)
    window = np.hanning(n + 1)[:-1].astype(np.float32)
    y = np.zeros(total + 2 * n, np.float32)
    for s0, w in zip(starts, wins, strict=True):
        y[s0 + n : s0 + 2 * n] += w * window
    return y[n : n + total]


def path_clips(model: SoundModel, n_clips: int, seconds: float = 8.0, jitter: float = 0.3, seed: int = 0,
               progress: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """Stage 3: the GAN-augmented data set: each clip is the GAN following a random smooth control curve (as the
    textures' own parameters move; `gan_play`). Returns (controls [frames, 1] at the recurrent model's frame rate,
    audio [frames * hop]) per clip."""
    from cadenza.audio.textures import smooth_curve

    frames = int(seconds * model.gan_cfg.sample_rate) // model.rnn.cfg.hop
    out = []
    for k in tqdm(range(n_clips), desc="GAN clips along the path", unit="clip", disable=not progress):
        curve = smooth_curve(frames, np.random.default_rng([seed, k]), n_points=max(2, int(seconds / 2)))
        audio = gan_play(model, curve.astype(np.float32), jitter, seed * 100003 + k)
        out.append((curve[:, None].astype(np.float32), audio))
    return out


def build_sound_model(data: str | Path, kind: str, out_dir: str | Path, gan_tc: Any, rnn_tc: Any, *,
                      n_clips: int = 160, som_size: int = 10, som_samples: int = 3000, progress: bool = True
                      ) -> tuple[SoundModel, dict[str, Any]]:  # fmt: skip
    """All four stages, each resumable in `out_dir` (gan/ and rnn/ are training runs; som.npz and clips.npz are
    kept once made): the GAN on `kind`'s windows, the SOM and its path, the GAN's clips along the path, and the
    recurrent model trained on them. Returns the model and the figures of every stage."""
    from cadenza.audio.noisebandnet import ControlBatches, evaluate_noiseband, noiseband_loss
    from cadenza.train.loop import train

    out = Path(out_dir)
    gen, figures, param = train_texture_gan(data, kind, out / "gan", gan_tc, progress=progress)
    model = SoundModel(SoundModelConfig(texture=kind, param=param, gan=asdict(gen.cfg), path_points=som_size))
    model.generator.load_state_dict(gen.state_dict())
    som_file = out / "som.npz"
    if som_file.exists():
        path = np.load(som_file)["path"]
    else:
        som, node_inputs = fit_latent_som(gen, som_samples, som_size, som_size, seed=gan_tc.seed)
        path = parameter_path(som, node_inputs)
        np.savez(som_file, path=path, nodes=som.nodes, node_inputs=node_inputs)
    model.path.copy_(torch.from_numpy(path))
    figures["path_parameter_first_last"] = [round(float(path[0, -1]), 3), round(float(path[-1, -1]), 3)]
    clips_file = out / "clips.npz"
    if clips_file.exists():
        z = np.load(clips_file)
        clips = [(z[f"c{i}"], z[f"a{i}"]) for i in range(int(z["n"]))]
    else:
        clips = path_clips(model, n_clips, seed=rnn_tc.seed, progress=progress)
        arrays: dict[str, Any] = {"n": len(clips)}
        for i, (c, a) in enumerate(clips):
            arrays[f"c{i}"], arrays[f"a{i}"] = c, a
        np.savez(clips_file, **arrays)
    n_valid = max(1, len(clips) // 10)
    train_clips, valid_clips = clips[n_valid:], clips[:n_valid]
    rnn = model.rnn
    ctl = np.concatenate([c for c, _ in train_clips])
    rnn.control_stats.copy_(torch.tensor(np.stack([ctl.mean(0), ctl.std(0) + 1e-3])))

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"valid/mrstft": evaluate_noiseband(m, valid_clips)}

    result = train(rnn, ControlBatches(train_clips, rnn.cfg, rnn_tc.seed, str(out)), noiseband_loss, rnn_tc,
                   out_dir=out / "rnn", eval_fn=eval_fn, model_config=asdict(rnn.cfg), progress=progress)  # fmt: skip
    model.eval()
    model.extra = {"segments": result.segments}
    figures.update({"gan_clips": len(clips), "gan_clip_minutes": round(sum(len(a) for _, a in clips) / 16000 / 60, 1),
                    "rnn_steps": result.step, "rnn_train_seconds": round(result.seconds, 1),
                    "rnn_valid_mrstft": round(evaluate_noiseband(rnn, valid_clips), 4)})  # fmt: skip
    return model, figures


CARD = (
    """# Sound Model Factory `{name}` (cadenza)

A playable {texture} made by the Sound Model Factory's four stages (Wyse, Kamath & Gupta 2022), trained here:

1. A GAN (GANSynth's networks, magnitude only) on 1.02 s windows of `{data}` ({texture}), conditioned on its
   parameter `{param}` (a bias per channel at every generator stage; a projection term in the critic beside its
   auxiliary regression head); {gan_steps} steps of WGAN-GP (Adam 2e-4, betas 0.5 / 0.9, gradient penalty every 4).
2. A 10 x 10 SOM over what the GAN makes of 3,000 random inputs (pooled log-magnitude statistics, and the
   parameter); each node holds its medoid's input; the control path is the grid line along which the parameter
   grows, through the centre.
3. {clips} clips of 8 s made by the GAN along the path, each following a random smooth control curve.
4. A GRU (NoiseBandNet's, 256 noise bands at 250 frames/s) trained on those clips to make the sound from the
   control alone; {rnn_steps} steps of the multi-resolution STFT loss.

- GAN config: `{gan_config}`
- Recurrent model config: `{rnn_config}`
"""
    + TRAINING_BLOCK
    + """
`python benchmarks/smf.py` measures how well it follows a control (an independent probe fitted on real {texture}
reads the parameter back), the path's smoothness beside raw latent interpolation, its speed and its drift.

    cadenza smf play --model {name} --curve curve.csv -o out.wav
    printf '0.2\\n0.9\\n' | cadenza smf play --model {name} --live --seconds 4 -o out.wav
"""
)


__all__ = [
    "SOM",
    "SoundModel",
    "SoundModelConfig",
    "SoundStream",
    "along",
    "build_sound_model",
    "fit_latent_som",
    "gan_config",
    "gan_play",
    "parameter_path",
    "path_clips",
    "train_texture_gan",
]
