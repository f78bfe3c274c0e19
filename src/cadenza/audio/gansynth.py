"""GANSynth (Engel et al. 2019, https://arxiv.org/abs/1902.08710): a GAN that makes a whole pitched note at once, as
the log magnitude and the instantaneous frequency (IF) of its spectrogram (linear or mel-warped frequency axis: the
paper's IF and IF-Mel), from a latent z (the timbre) and a one-hot pitch.

Fixed resolution (the paper also grows progressively): a generator of nearest up-sampling + 3x3 convolutions with
pixel norm and leaky ReLU from 2 x 8 to 128 frames x 512 bins, a discriminator that mirrors it (with minibatch
standard deviation) and has two heads: the Wasserstein critic and a pitch classifier (AC-GAN). Losses: WGAN-GP
(gradient penalty 10, drift 1e-3) and the auxiliary pitch cross-entropy (weight 10) on real and generated notes.
Audio comes back from the magnitude and the IF integrated over time (the phase), by the inverse STFT; or, cadenza's
default, from the magnitude with the phase of an in-tune harmonic note at the pitch asked (`generate(phase=...)`):
on notes of held-out instruments it let CREPE hear the pitch far more often than the drawn IF or Griffin-Lim, at about
the same or a lower FAD (benchmarks/gansynth.py).

`pitch_map` (not in the paper; `cadenza gansynth train --pitch-map`) also gives both networks maps of where the
pitch's harmonics fall on the frequency axis, and makes the generated IF a deviation from an in-tune harmonic
note's. Measured at this CPU's size: with the one-hot pitch alone, 64 minutes of training made unpitched noise
(CREPE heard the pitch asked for in 0% of notes); with the maps, in 49% after 250 steps (magnitude only).

    spec = SpectralIF(cfg)                 # audio <-> [2, frames, bins] features in [-1, 1]
    model = GANSynth.from_pretrained(...)  # a trained generator
    audio = model.generate(pitches=[60, 64, 67], seed=0)

The default size is the paper's scale and a GPU's work: one training step of 8 notes takes 13 s on one CPU core
(4.8M generator and 4.4M discriminator parameters at 128 x 512; benchmarks/token_parts.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cadenza.core.audio import AudioClip
from cadenza.core.score import Score
from cadenza.errors import InputError
from cadenza.pretrained import Pretrained


@dataclass(frozen=True)
class GANSynthConfig:
    sample_rate: int = 16000
    n_fft: int = 1024  # 15.6 Hz bins at 16 kHz (the paper's high-frequency-resolution variant: 2048)
    hop: int = 512
    frames: int = 128  # 4.1 s
    # IF-Mel (the paper's best): magnitude and IF on a mel-warped axis of as many bins. Off by default: warping 512
    # linear bins to 512 mel bins and back loses the top octaves' detail (DAC's mel distance of flute and piano notes'
    # round trips median 2.03; 1.54 at 1024 bins), where linear IF round-trips exactly (0.000;
    # benchmarks/token_parts.py)
    mel: bool = False
    pitch_low: int = 24
    pitch_high: int = 84
    latent_dim: int = 256
    channels: tuple[int, ...] = (256, 256, 256, 128, 64, 32, 16)  # 2x8 -> 4x16 -> ... -> 128x512
    if_channel: bool = True  # False: magnitude only (phase by Griffin-Lim), the paper's ablation
    # > 0: conditioned on that many continuous parameters in [0, 1] instead of a one-hot pitch, and the
    # discriminator's auxiliary head regresses them (the Sound Model Factory's texture GAN, `cadenza.audio.smf`)
    n_params: int = 0
    # the condition also sets a bias per channel at every generator stage and enters the critic as a projection
    # term (Miyato & Koyama 2018), beside the auxiliary head; always on with continuous parameters
    projection: bool = False
    # the pitch also enters as maps of where its harmonics fall on the frequency axis (and a frequency coordinate,
    # and the IF of an in-tune harmonic note): added through a 1x1 convolution at every generator stage, and as input
    # channels of the discriminator; the generator's IF is a deviation from the in-tune IF, and the critic sees the
    # IF only where the bin is loud (`if_gate`). A convolution cannot
    # otherwise tell where a pitch's harmonics go on a linear frequency axis (their spacing changes with the pitch);
    # see `harmonic_maps`. Not in the paper
    pitch_map: bool = False
    # MIDI pitches left out of training (`--hold-out-pitches`), to measure whether the model plays pitches it never
    # heard: the generator's one-hot of such a pitch is the mean of its two nearest trained pitches' (`pitch_code`)
    held_out: tuple[int, ...] = ()

    @property
    def bins(self) -> int:
        return self.n_fft // 2  # the Nyquist bin is dropped, as in the paper

    @property
    def n_pitches(self) -> int:
        return self.pitch_high - self.pitch_low + 1

    @property
    def projected(self) -> bool:
        return self.projection or self.n_params > 0

    @property
    def cond_dim(self) -> int:
        """Width of the condition: the parameters, or the one-hot pitch."""
        return self.n_params or self.n_pitches

    @property
    def n_samples(self) -> int:
        return self.frames * self.hop

    def __post_init__(self) -> None:
        size = (2 * 2 ** (len(self.channels) - 1), 8 * 2 ** (len(self.channels) - 1))
        if size != (self.frames, self.bins):
            raise ValueError(f"{len(self.channels)} stages make {size[0]} x {size[1]}, not {self.frames} x {self.bins}")
        if self.pitch_map and self.n_params:
            raise ValueError("pitch maps need a pitch, not continuous parameters")
        if any(not self.pitch_low < p < self.pitch_high for p in self.held_out):
            raise ValueError(f"held-out pitches must lie inside {self.pitch_low}-{self.pitch_high}, not at its ends")


def pitch_code(cfg: GANSynthConfig) -> torch.Tensor:
    """[n_pitches, n_pitches]: the generator's pitch input, one row per pitch. The one-hot, except for a held-out
    pitch: its one-hot's weights are never trained, so it takes the mean of the nearest trained pitches' (below and
    above)."""
    code = torch.eye(cfg.n_pitches)
    held = {p - cfg.pitch_low for p in cfg.held_out}
    for i in sorted(held):
        lo = max(j for j in range(i) if j not in held)
        hi = min(j for j in range(i + 1, cfg.n_pitches) if j not in held)
        code[i] = (code[lo] + code[hi]) / 2
    return code


def mel_warp_matrix(bins: int, sample_rate: int) -> torch.Tensor:
    """[bins, bins]: linear interpolation from linear-frequency bins to the same number of bins evenly spaced in
    mel (denser at low frequencies, as the ear and as the paper's IF-Mel)."""
    nyq = sample_rate / 2
    hz = np.arange(bins) * nyq / bins

    def mel(f: np.ndarray) -> np.ndarray:
        return 1127.0 * np.log1p(f / 700.0)

    targets = 700.0 * np.expm1(np.linspace(0, mel(np.array(hz[-1])), bins) / 1127.0)
    pos = targets / (nyq / bins)
    lo = np.clip(np.floor(pos).astype(int), 0, bins - 1)
    hi = np.clip(lo + 1, 0, bins - 1)
    w = pos - lo
    m = np.zeros((bins, bins))
    m[np.arange(bins), lo] += 1 - w
    m[np.arange(bins), hi] += w
    return torch.tensor(m, dtype=torch.float32)


def _nearest_harmonics(cfg: GANSynthConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(bin positions [bins], each pitch's f0 in Hz [P], the frequency of each bin's nearest harmonic [P, bins])."""
    pos = torch.arange(cfg.bins, dtype=torch.float64)
    f0 = 440.0 * 2.0 ** ((torch.arange(cfg.pitch_low, cfg.pitch_high + 1, dtype=torch.float64) - 69) / 12)
    nearest = (pos[None] * cfg.sample_rate / cfg.n_fft / f0[:, None]).round().clamp_min(1) * f0[:, None]
    return pos, f0, nearest


def _wrapped(phase: torch.Tensor) -> torch.Tensor:
    """A phase in radians -> [-1, 1), the features' IF scale."""
    return torch.remainder(phase + math.pi, 2 * math.pi) / math.pi - 1


def harmonic_maps(cfg: GANSynthConfig, harmonics: int = 32) -> torch.Tensor:
    """[n_pitches, n_maps, bins]: for each pitch, where its harmonics fall on the features' frequency axis (a Gaussian
    bump of half a bin's width at each of the first `harmonics` multiples of f0 below Nyquist, at most 1), the
    frequency coordinate (0 at DC to 1 at Nyquist), and with the IF channel the IF each bin would have if it held
    its nearest harmonic, exactly in tune (the same scale as the features' IF); mel-warped as the features are. They
    say where a harmonic note's partials would be, not how loud, how they move or what else sounds: the timbre is
    the generator's to learn."""
    pos, f0, nearest = _nearest_harmonics(cfg)
    centres = f0[:, None] * torch.arange(1, harmonics + 1) * cfg.n_fft / cfg.sample_rate  # [P, H] in bins
    centres = torch.where(centres < cfg.bins - 0.5, centres, torch.inf)
    comb = torch.exp(-0.5 * ((pos[None, None] - centres[..., None]) / 0.5) ** 2).amax(1)  # [P, bins]
    maps = [comb, (pos / cfg.bins).expand_as(comb)]
    if cfg.if_channel:
        maps.append(_wrapped(2 * math.pi * nearest * cfg.hop / cfg.sample_rate))  # the phase advance per hop
    out = torch.stack(maps, dim=1).float()
    if cfg.mel:
        out = out @ mel_warp_matrix(cfg.bins, cfg.sample_rate).T
    return out


def in_tune_if(cfg: GANSynthConfig) -> torch.Tensor:
    """[n_pitches, frames, bins]: the IF features of an in-tune harmonic note, each bin holding its nearest harmonic:
    the advance per hop on every frame but the first, and on the first the phase itself, which carries the main lobe's
    slope of -pi per bin (the frame's phase reference is its start, not its centre). Drawn without that slope, a
    lobe's bins sum in phase at the frame's edges, where the window is near zero: a buzz at the frame rate that CREPE
    heard no pitch in (96% of notes after 250 steps)."""
    pos, _, nearest = _nearest_harmonics(cfg)
    advance = 2 * math.pi * nearest * cfg.hop / cfg.sample_rate
    first = -math.pi * (pos[None] - nearest * cfg.n_fft / cfg.sample_rate)
    phase = torch.cat([first[:, None], advance[:, None].expand(-1, cfg.frames - 1, -1)], dim=1)
    out = _wrapped(phase).float()
    return out @ mel_warp_matrix(cfg.bins, cfg.sample_rate).T if cfg.mel else out


def if_gate(logmag: torch.Tensor) -> torch.Tensor:
    """How much of a bin's IF the critic sees (with pitch maps): none below a scaled log magnitude of 0 (about 76 dB
    under a full-scale sine's bin), all above 0.3 (52 dB under). A quiet bin's phase is inaudible and a real note's
    is noise there: shown it, the critic pushed the generator's IF to noise in every bin (its deviation from in tune
    averaged 0.72 after 250 steps, real notes' loud bins 0.29) and CREPE heard the pitch in none of its notes."""
    return ((logmag - 0.0) / 0.3).clamp(0, 1)


def n_maps(cfg: GANSynthConfig) -> int:
    return (3 if cfg.if_channel else 2) if cfg.pitch_map else 0


class SpectralIF(nn.Module):
    """Audio [B, N] <-> features [B, 2, frames, bins]: log magnitude and instantaneous frequency (the time difference
    of the unwrapped phase, / pi), each scaled to about [-1, 1]; mel-warped when cfg.mel."""

    LOG_FLOOR = 1e-6
    window: torch.Tensor
    warp: torch.Tensor
    unwarp: torch.Tensor
    edge_gain: torch.Tensor
    LOG_SHIFT, LOG_SCALE = 4.3, 9.5  # a full-scale sine's bin (|X| ~ 180 at n_fft 1024) stays under 1

    def __init__(self, cfg: GANSynthConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        warp = mel_warp_matrix(cfg.bins, cfg.sample_rate) if cfg.mel else torch.eye(cfg.bins)
        self.register_buffer("warp", warp, persistent=False)
        self.register_buffer("unwarp", torch.linalg.pinv(warp), persistent=False)
        # The inverse STFT divides by the overlap-added squared window, which falls to 0 over the last hop (no frame
        # is centred past the end). Generated features are not the STFT of any signal, so that division blew their
        # last 16 ms up into a click 50 dB above the note; the edge is faded by the envelope itself (plain overlap-add)
        # wherever it drops below half its peak. Real features' round trip is unchanged inside.
        env = torch.zeros(cfg.frames * cfg.hop + cfg.n_fft)
        for f in range(cfg.frames):
            env[f * cfg.hop : f * cfg.hop + cfg.n_fft] += self.window**2
        env = env[cfg.n_fft // 2 : cfg.n_fft // 2 + cfg.n_samples]
        self.register_buffer("edge_gain", (env / (0.5 * env.max())).clamp(max=1.0), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        audio = F.pad(audio, (0, max(0, cfg.n_samples - audio.shape[-1])))[..., : cfg.n_samples]
        spec = torch.stft(audio, cfg.n_fft, cfg.hop, window=self.window, center=True, return_complex=True)
        spec = spec[:, : cfg.bins, : cfg.frames].transpose(1, 2)  # [B, frames, bins]
        logmag = torch.log(spec.abs() + self.LOG_FLOOR)
        phase = torch.angle(spec)
        # the time derivative of the unwrapped phase is the wrapped phase difference: in [-pi, pi), / pi
        inst = torch.remainder(torch.diff(phase, dim=1, prepend=torch.zeros_like(phase[:, :1])) + math.pi,
                               2 * math.pi) / math.pi - 1  # fmt: skip
        mag = (logmag @ self.warp.T + self.LOG_SHIFT) / self.LOG_SCALE  # log magnitudes -13.8 (floor)..5.2 -> -1..1
        feats = [mag.clamp(-1, 1), inst @ self.warp.T] if cfg.if_channel else [mag.clamp(-1, 1)]
        return torch.stack(feats, dim=1)

    def inverse(self, feats: torch.Tensor, griffin_lim_iters: int = 32) -> torch.Tensor:
        """Features [B, C, frames, bins] -> audio [B, N]: the IF summed over time is the phase (with the IF channel),
        else Griffin-Lim's."""
        cfg = self.cfg
        logmag = (feats[:, 0] * self.LOG_SCALE - self.LOG_SHIFT) @ self.unwarp.T
        mag = (torch.exp(logmag) - self.LOG_FLOOR).clamp_min(0)
        if cfg.if_channel and feats.shape[1] > 1:
            phase = torch.cumsum((feats[:, 1] @ self.unwarp.T) * math.pi, dim=1)
            spec = torch.polar(mag, phase)
        else:
            spec = self._griffin_lim(mag, griffin_lim_iters)
        spec = F.pad(spec.transpose(1, 2), (0, 0, 0, 1))  # the Nyquist bin back, zero
        y = torch.istft(spec, cfg.n_fft, cfg.hop, window=self.window, center=True, length=cfg.n_samples)
        return y * self.edge_gain

    def _griffin_lim(self, mag: torch.Tensor, iters: int) -> torch.Tensor:
        cfg = self.cfg
        g = torch.Generator().manual_seed(0)
        spec = torch.polar(mag, 2 * math.pi * torch.rand(mag.shape, generator=g))
        for _ in range(iters):
            full = F.pad(spec.transpose(1, 2), (0, 0, 0, 1))
            y = torch.istft(full, cfg.n_fft, cfg.hop, window=self.window, center=True, length=cfg.n_samples)
            again = torch.stft(y, cfg.n_fft, cfg.hop, window=self.window, center=True, return_complex=True)
            spec = torch.polar(mag, torch.angle(again[:, : cfg.bins, : cfg.frames].transpose(1, 2)))
        return spec


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def _conv_block(c_in: int, c_out: int, norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in ((c_in, c_out), (c_out, c_out)):
        layers += [nn.Conv2d(a, b, 3, padding=1), nn.LeakyReLU(0.2)]
        if norm:
            layers.append(PixelNorm())
    return layers


def he_init(module: nn.Module) -> None:
    """He-normal weights for the leaky-ReLU layers (slope 0.2) and zero biases, as ProGAN's equalized learning rate
    starts: with PyTorch's default init each of the discriminator's 12 convolutions shrinks the signal, its output is
    all but constant, and neither the critic nor the pitch head learned in 100 steps (gradient penalty stuck at 1)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Generator(nn.Module):
    maps: torch.Tensor
    in_tune: torch.Tensor
    code: torch.Tensor

    def __init__(self, cfg: GANSynthConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.cfg = cfg
        self.inp = nn.Linear(cfg.latent_dim + cfg.cond_dim, c[0] * 2 * 8)
        layers: list[nn.Module] = [nn.LeakyReLU(0.2), PixelNorm(), *_conv_block(c[0], c[0], True)[2:]]
        for a, b in zip(c, c[1:]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), *_conv_block(a, b, True)]
        self.body = nn.Sequential(*layers)
        he_init(self)
        self.out = nn.Conv2d(c[-1], 2 if cfg.if_channel else 1, 1)  # PyTorch's init: a small start for the tanh
        if not cfg.n_params:
            self.register_buffer("code", pitch_code(cfg), persistent=False)
        if cfg.projected:
            # the condition also sets a bias per channel at every stage (after each up-sampling), so it does not
            # have to survive a dozen pixel-normed layers from the input; zero at the start
            biases = [nn.Linear(cfg.cond_dim, a) for a in c[:-1]]
            for m in biases:
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
            self.cond_bias = nn.ModuleList(biases)
        if cfg.pitch_map:
            self.register_buffer("maps", harmonic_maps(cfg), persistent=False)
            if cfg.if_channel:
                self.register_buffer("in_tune", in_tune_if(cfg), persistent=False)
                with torch.no_grad():  # no deviation at the start: in-tune notes (PyTorch's init drew +-0.5)
                    self.out.weight[1].zero_()
                    self.out.bias[1].zero_()  # type: ignore[index]
            self.map_in = nn.ModuleList([nn.Conv2d(n_maps(cfg), a, 1) for a in c[:-1]])
            he_init(self.map_in)

    def stage_maps(self, cond: torch.Tensor, bins: int) -> torch.Tensor:
        """Each pitch's maps at a stage's width: [B, n_maps, 1, bins]; the comb and the coordinate pooled and scaled
        back to a peak of 1 (pooling lowers a narrow bump), the IF pooled."""
        m = F.adaptive_avg_pool1d(self.maps[cond], bins)
        peak = m[:, :2].amax(-1, keepdim=True).clamp_min(1e-6)
        return torch.cat([m[:, :2] / peak, m[:, 2:]], dim=1)[:, :, None]

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """z [B, latent] and the condition: pitch indices [B] (0..n_pitches-1), or parameters [B, n_params] in
        [0, 1] -> features [B, C, frames, bins] in [-1, 1]."""
        c = self.code[cond] if not cond.is_floating_point() else cond
        x = torch.cat([PixelNorm()(z[..., None])[..., 0], c], dim=1)
        x = self.inp(x).view(len(z), self.cfg.channels[0], 2, 8)
        if not (self.cfg.projected or self.cfg.pitch_map):
            return torch.tanh(self.out(self.body(x)))
        stage = 0
        for layer in self.body:
            x = layer(x)
            if isinstance(layer, nn.Upsample):
                if self.cfg.projected:
                    x = x + self.cond_bias[stage](c)[:, :, None, None]
                if self.cfg.pitch_map:
                    x = x + self.map_in[stage](self.stage_maps(cond, x.shape[-1]))
                stage += 1
        out = torch.tanh(self.out(x))
        if self.cfg.pitch_map and self.cfg.if_channel:
            # the IF made as a deviation from the in-tune IF of the nearest harmonic, wrapped back to [-1, 1): zero
            # deviation is a perfectly harmonic note. Asked to draw the IF outright (the map as input only), the
            # generator's IF still ignored it after 500 steps (CREPE heard the pitch in 4% of notes; magnitude only 67%)
            inst = torch.remainder(out[:, 1] + self.in_tune[cond] + 1, 2) - 1
            out = torch.stack([out[:, 0], inst], dim=1)
        return out


class Discriminator(nn.Module):
    maps: torch.Tensor

    def __init__(self, cfg: GANSynthConfig) -> None:
        super().__init__()
        c = list(reversed(cfg.channels))
        n_in = (2 if cfg.if_channel else 1) + n_maps(cfg)  # the pitch's maps as extra channels
        layers: list[nn.Module] = [nn.Conv2d(n_in, c[0], 1), nn.LeakyReLU(0.2)]
        for a, b in zip(c, c[1:]):
            layers += [*_conv_block(a, b, False), nn.AvgPool2d(2)]
        if cfg.pitch_map:
            self.register_buffer("maps", harmonic_maps(cfg), persistent=False)
        self.body = nn.Sequential(*layers)
        self.final = nn.Sequential(nn.Conv2d(c[-1] + 1, c[-1], 3, padding=1), nn.LeakyReLU(0.2))
        self.critic = nn.Linear(c[-1] * 2 * 8, 1)
        self.pitch = nn.Linear(c[-1] * 2 * 8, cfg.cond_dim)  # pitch logits, or the parameters' logits
        if cfg.projected:
            # a projection discriminator (Miyato & Koyama 2018): the critic also scores how the features agree with
            # an embedding of the condition, so it judges sound and condition together. Without it, a texture GAN
            # fooled the auxiliary head and ignored its parameter (its output level flat across the range after
            # 1,000 steps); with it the level followed the parameter by step 750
            self.embed = nn.Sequential(nn.Linear(cfg.cond_dim, 64), nn.LeakyReLU(0.2), nn.Linear(64, c[-1] * 2 * 8))
        self.cfg = cfg
        he_init(self)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (and, with `projection`, the condition the projection term scores: pitch indices [B] or
        parameters [B, n_params]) -> (critic [B], auxiliary logits [B, cond_dim]: the pitch's, or the parameters'
        before a sigmoid)."""
        if self.cfg.pitch_map:
            if cond is None:
                raise ValueError("a discriminator with pitch maps needs the pitch")
            if self.cfg.if_channel:
                x = torch.cat([x[:, :1], x[:, 1:2] * if_gate(x[:, :1])], dim=1)
            x = torch.cat([x, self.maps[cond][:, :, None].expand(-1, -1, x.shape[2], -1)], dim=1)
        h = self.body(x)
        std = h.std(dim=0, unbiased=False).mean().expand(len(h), 1, *h.shape[2:])  # minibatch standard deviation
        h = self.final(torch.cat([h, std], dim=1)).flatten(1)
        critic = self.critic(h)[:, 0]
        if cond is not None and self.cfg.projected:
            c = cond if cond.is_floating_point() else F.one_hot(cond, self.cfg.n_pitches).float()
            critic = critic + (self.embed(c) * h).sum(1) / math.sqrt(h.shape[1])
        return critic, self.pitch(h)


class GANSynth(Pretrained, nn.Module):
    """The generator (what is shipped) and the spectral front end."""

    kind: ClassVar[str] = "gansynth"
    config_cls: ClassVar[type] = GANSynthConfig
    # the default: the magnitude-only network, which with the in-tune phase measured best on held-out instruments'
    # notes (pitch accuracy, FAD through CLAP and the classifier; benchmarks/gansynth.py); the IF network, the paper's,
    # is models/gansynth-notes
    shipped: ClassVar[str | None] = "gansynth-notes-magnitude"
    cfg: GANSynthConfig

    def __init__(self, cfg: GANSynthConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.generator = Generator(cfg)
        self.spec = SpectralIF(cfg)
        self._harmonic: tuple[SpectralIF, torch.Tensor] | None = None

    def pitch_index(self, pitch: int) -> int:
        if not self.cfg.pitch_low <= pitch <= self.cfg.pitch_high:
            raise InputError("--pitch", f"{pitch} is outside the trained range "
                                        f"{self.cfg.pitch_low}-{self.cfg.pitch_high}")  # fmt: skip
        return pitch - self.cfg.pitch_low

    def latents(self, n: int, seed: int | None = 0) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        return torch.randn(n, self.cfg.latent_dim, generator=g)

    @property
    def phases(self) -> tuple[str, ...]:
        """How this model's notes can get their phase (`generate(phase=...)`), its default first."""
        # in-tune first: measured on notes of held-out instruments it beat the drawn IF and Griffin-Lim on pitch
        # (CREPE: 86% vs 68% / 43% for the IF network, 97% vs 63% magnitude only) at about the same or a lower FAD
        # (benchmarks/gansynth.py)
        return ("in-tune", "drawn", "griffin-lim") if self.cfg.if_channel else ("in-tune", "griffin-lim")

    @torch.no_grad()
    def generate(self, pitches: list[int], z: torch.Tensor | None = None, seed: int | None = 0,
                 batch: int = 16, phase: str | None = None) -> np.ndarray:  # fmt: skip
        """Notes [len(pitches), samples] at the given MIDI pitches; one latent each (`z` [n or 1, latent], default
        drawn from `seed`; a single latent plays every pitch with the same timbre).

        `phase`: where the notes' phase comes from (default: the first of `phases`): "drawn", the IF the generator
        drew (the paper's); "in-tune", the IF of an in-tune harmonic note at the pitch asked (the generated magnitude
        only: every bin follows its nearest harmonic exactly; `in_tune_if`); "griffin-lim", estimated from the
        magnitude alone."""
        phase = phase or self.phases[0]
        if phase not in self.phases:
            raise InputError("--phase", f"must be one of {', '.join(self.phases)} for this model, not {phase!r}")
        idx = torch.tensor([self.pitch_index(p) for p in pitches])
        if z is None:
            z = self.latents(len(pitches), seed)
        z = z.expand(len(pitches), -1) if len(z) == 1 else z
        out = [self.invert(self.generator(z[i : i + batch], idx[i : i + batch]), idx[i : i + batch], phase)
               for i in range(0, len(idx), batch)]  # fmt: skip
        return (torch.cat(out) * self.end_fade()).numpy()

    # The shipped generators' last frames swell: averaged over every other pitch of MIDI 36-84, the power of the last
    # 4 of 64 frames is 6.8 dB (magnitude-only network) and 8.2 dB (IF) above that of frames 44-55, at the edge of the
    # canvas, where real notes (held-out instruments, cut from sustained 4 s renders) stay level (-0.5 dB). The notes
    # end with a fade over those frames instead.
    END_FADE_S = 0.064

    def end_fade(self) -> torch.Tensor:
        """[samples]: 1, then a half-cosine to 0 over the last END_FADE_S (a quarter of a shorter note)."""
        n = self.cfg.n_samples
        k = min(int(self.END_FADE_S * self.cfg.sample_rate), n // 4)
        ramp = 0.5 * (1 + torch.cos(torch.linspace(0, math.pi, k)))
        return torch.cat([torch.ones(n - k), ramp])

    def invert(self, feats: torch.Tensor, idx: torch.Tensor, phase: str) -> torch.Tensor:
        """Features [B, C, frames, bins] of pitch indices [B] -> audio [B, N], with the phase from `phase`."""
        if phase == "drawn":
            return self.spec.inverse(feats)
        if phase == "griffin-lim":
            return self.spec.inverse(feats[:, :1])
        if self._harmonic is None:  # built on first use: a spectral front end with an IF channel, and its table
            cfg = replace(self.cfg, if_channel=True)
            self._harmonic = (self.spec if self.cfg.if_channel else SpectralIF(cfg), in_tune_if(cfg))
        spec, in_tune = self._harmonic
        return spec.inverse(torch.stack([feats[:, 0], in_tune[idx]], dim=1))

    def fold_pitch(self, pitch: int) -> int:
        """The pitch moved by octaves into the trained range (for scores that go beyond it)."""
        while pitch < self.cfg.pitch_low:
            pitch += 12
        while pitch > self.cfg.pitch_high:
            pitch -= 12
        return pitch

    def render(self, score: Score, seed: int = 0, release_s: float = 0.05,
               phase: str | None = None) -> tuple[np.ndarray, int]:  # fmt: skip
        """A score played with the model as its instrument, as the paper's demo: one latent (one timbre) for every
        note, each pitch generated once, each note cut to its written length (at most the model's note length) with a
        short fade, scaled by its velocity. Pitches outside the trained range are moved by octaves.

        Returns (mono audio at the model's rate, peak-limited to -1 dBFS; how many notes were moved by octaves).
        """
        notes = score.notes
        if not notes:
            raise InputError(score.source or "score", "has no notes to render")
        sr, spq = self.cfg.sample_rate, 60.0 / score.tempo_bpm
        folded = [self.fold_pitch(n.pitch) for n in notes]
        distinct = sorted(set(folded))
        audio = dict(zip(distinct, self.generate(distinct, z=self.latents(1, seed), phase=phase), strict=True))
        total = int(max(n.onset + n.duration for n in notes) * spq * sr) + int(release_s * sr) + 1
        out = np.zeros(total, dtype=np.float32)
        fade = int(release_s * sr)
        for n, p in zip(notes, folded, strict=True):
            start = int(n.onset * spq * sr)
            length = min(int(n.duration * spq * sr) + fade, len(audio[p]), total - start)
            x = audio[p][:length] * (n.velocity / 100.0)
            k = min(fade, length)
            x[length - k :] *= np.linspace(1.0, 0.0, k, dtype=np.float32)
            out[start : start + length] += x
        out = AudioClip(out[None], sr).limit_peak(-1.0).samples[0]
        return out, sum(p != n.pitch for n, p in zip(notes, folded, strict=True))

    @staticmethod
    def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
        """Spherical interpolation between two latents [latent] -> [steps, latent] (both ends included)."""
        an, bn = a / a.norm(), b / b.norm()
        omega = torch.arccos((an * bn).sum().clamp(-1, 1))
        t = torch.linspace(0, 1, steps)[:, None]
        if float(omega) < 1e-6:
            return a + t * (b - a)
        return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def gradient_penalty(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     cond: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """WGAN-GP (Gulrajani et al. 2017): (|grad D(x_hat)| - 1)^2 on random mixes of real and generated features."""
    eps = torch.rand(len(real), 1, 1, 1)
    mix = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    critic, _ = disc(mix, cond)
    (grad,) = torch.autograd.grad(critic.sum(), mix, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def auxiliary_loss(logits: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """AC-GAN's term: the pitch's cross-entropy, or (continuous parameters) the squared error of sigmoid(logits)."""
    if cond.is_floating_point():
        return F.mse_loss(torch.sigmoid(logits), cond)
    return F.cross_entropy(logits, cond)


class GANSynthTrainer(nn.Module):
    """Generator and discriminator trained by one backward: each term reaches only its own side's weights.

    With `gp_every` k > 1 the gradient penalty is computed on every k-th training step only, weighted k times
    (StyleGAN2's lazy regularization): the penalty's double backward is the costliest part of a step. The step
    count is a buffer, saved with the checkpoints, so a resumed run penalizes the same steps."""

    steps: torch.Tensor

    def __init__(self, cfg: GANSynthConfig, gp_weight: float = 10.0, aux_weight: float = 10.0,
                 drift: float = 1e-3, gp_every: int = 1, mode_seeking: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        if gp_every < 1:
            raise ValueError(f"gp_every must be at least 1, not {gp_every}")
        self.model = GANSynth(cfg)
        self.disc = Discriminator(cfg)
        self.gp_weight, self.aux_weight, self.drift, self.gp_every = gp_weight, aux_weight, drift, gp_every
        self.mode_seeking = mode_seeking
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, feats: torch.Tensor, cond: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        fake = self.model.generator(z, cond)
        real_c, real_p = self.disc(feats, cond)
        fake_c, _ = self.disc(fake.detach(), cond)
        d_loss = fake_c.mean() - real_c.mean() + self.drift * real_c.pow(2).mean()
        if self.training:
            self.steps += 1
        if int(self.steps) % self.gp_every == 0 or not self.training:
            d_loss = d_loss + self.gp_every * self.gp_weight * gradient_penalty(self.disc, feats, fake, cond)
        d_aux = auxiliary_loss(real_p, cond)
        for p in self.disc.parameters():  # the generator's terms must not train the discriminator
            p.requires_grad_(False)
        g_c, g_p = self.disc(fake, cond)
        for p in self.disc.parameters():
            p.requires_grad_(True)
        g_loss = -g_c.mean()
        g_aux = auxiliary_loss(g_p, cond)
        total = d_loss + self.aux_weight * d_aux + g_loss + self.aux_weight * g_aux
        if self.mode_seeking > 0:
            # Mode seeking (Mao et al. 2019): half the batch again from other latents at the same pitches; the
            # generator is penalized when two latents make nearly the same note (the inverse of their distance ratio)
            h = len(z) // 2
            z2 = torch.randn_like(z[:h])
            other = self.model.generator(z2, cond[:h])
            ratio = (fake[:h] - other).abs().mean() / (z[:h] - z2).abs().mean()
            total = total + self.mode_seeking / (ratio + 1e-5)
        return {"loss": total, "critic_gap": (real_c.mean() - fake_c.mean()).detach(), "d_aux": d_aux.detach(),
                "g_aux": g_aux.detach()}  # fmt: skip


def describe(model: GANSynth) -> dict[str, Any]:
    cfg = model.cfg
    return {"representation": ("IF-Mel" if cfg.mel else "IF") if cfg.if_channel else "magnitude only",
            "resolution": f"{cfg.frames} frames x {cfg.bins} bins", "pitches": f"{cfg.pitch_low}-{cfg.pitch_high}",
            "parameters": sum(p.numel() for p in model.generator.parameters())}  # fmt: skip
