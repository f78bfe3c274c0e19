"""RAVE, a realtime audio variational autoencoder (Caillon & Esling 2021, https://arxiv.org/abs/2111.05011;
acids-ircam/RAVE), sized for a laptop CPU at 16 kHz.

    audio [B, 1, N] -> PQMF (8 bands) -> Encoder -> (mean, scale) [B, 2 x D, T] -> z ~ N(mean, scale^2)
    z [B, D, T] -> Decoder -> waveform x loudness + filtered noise, per band -> PQMF synthesis -> audio

- Bands: 8 PQMF bands of 1 kHz at 16 kHz. The paper's 16 bands at 48 kHz are 1.5 kHz wide; 8 keeps the bands about
  as wide and runs every convolution at 2 kHz. The hop is 8 x 4 x 4 x 4 = 512 samples: 31.25 latent frames/s,
  the paper's ~23 Hz at 48 kHz with its 2,048-sample hop.
- Decoder: the convolutional up-sampling stack of the codec (`cadenza.audio.codec`, Snake activations) ends in
  the paper's three branches: a waveform (tanh) scaled by a loudness envelope (`mod_sigmoid`), plus noise
  filtered by a per-frame, per-band spectral envelope (`NoiseBranch`), which carries the breath and the bow.
- Two front and back ends besides the paper's (`encoder="mel"`, `decoder="spectral"`; the CLI's default, and the
  shipped violin's): a log-mel encoder (a fixed causal STFT written as a strided convolution, then convolutions over
  its frames) and a Vocos-style decoder (causal ConvNeXt blocks predicting STFT frames, a causal inverse STFT; no
  PQMF on either side). On this CPU's budget the paper's pair learned loudness alone: a read-out finds no pitch in
  its latent and the output stays on the transposed convolutions' 500 Hz. The mel encoder puts the pitch in the
  latent, but only with the spectral decoder too does the output follow it (`benchmarks/rave.py`, 10 held-out violin
  clips, paper's / mel encoder alone (4,000 steps) / both (8,000 steps, as the paper's): pitch read from the latent
  r 0.11 / 0.81 / 0.94; frames off pitch by > 50 cents 92% / 91% / 9%; mel distance 3.01 / 2.54 / 1.67). The
  price is latency: the inverse STFT's overlap delays the stream by 3 hops (96 ms) where the PQMF delays it by 8 ms.
- Training (`cadenza.audio.rave_train`) has the paper's two phases: the multi-scale spectral distance and a
  KL term whose weight warms up; then, the encoder frozen, hinge adversarial and feature-matching losses.
- After training, the posterior means of the training audio are analysed by PCA (`latent_mean`,
  `latent_components`, `latent_variance`, saved with the weights): `encode` returns the latent in that basis,
  sorted by variance, and `fidelity_dims(0.95)` says how many dimensions hold 95% of it (RAVE's "fidelity").
- `causal=True` (the default): every convolution and the PQMF look only back, so `with model.stream():` decodes
  block by block exactly as the whole file, lagging by `delay` samples; `cadenza.audio.rave_export` scripts such
  a model for a live patch (nn~ conventions).
"""

# no `from __future__ import annotations`: TorchScript (`cadenza rave export`) reads these modules' annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from cadenza.audio.codec import CodecConfig, ConvNeXtBlock, Encoder, MelEncoder, Snake, conv, decoder_block
from cadenza.audio.dsp import PQMF
from cadenza.nn.streaming import CausalISTFT, CausalPQMF, streaming
from cadenza.pretrained import Pretrained


@dataclass(frozen=True)
class RAVEConfig:
    sample_rate: int = 16000
    n_bands: int = 8  # PQMF bands: 1 kHz each at 16 kHz (the paper: 16 bands of 1.5 kHz at 48 kHz)
    channels: int = 16  # encoder width after the first convolution; doubles at each down-sampling
    strides: tuple[int, ...] = (4, 4, 4)  # the hop is n_bands * prod(strides) = 512 samples (31.25 frames/s)
    latent_dim: int = 16
    decoder_channels: int = 192  # decoder width before the first up-sampling; halves at each
    noise_bands: int = 5  # spectral envelope points of the filtered noise, per PQMF band (the paper's 5)
    noise_strides: tuple[int, ...] = (4, 4)  # the noise envelope changes every prod(...) band samples (8 ms)
    causal: bool = True  # no look-ahead: streams block by block and exports for live use
    encoder: str = "waveform"  # "waveform": convolutions over the PQMF bands (the paper's); "mel": over a log-mel
    mel_fft: int = 2048  # the "mel" encoder's STFT size (one frame per hop, ending at the frame's last sample)
    n_mels: int = 128
    decoder: str = "waveform"  # "waveform": the paper's branches over PQMF bands; "spectral": Vocos-style (needs "mel")
    istft_hops: int = 4  # the "spectral" decoder's window in hops (Vocos: 4); the output lags by istft_hops - 1 hops
    decoder_layers: int = 8  # the "spectral" decoder's ConvNeXt blocks

    def __post_init__(self) -> None:
        if self.n_bands < 2 or self.n_bands & (self.n_bands - 1):
            raise ValueError(f"n_bands must be a power of two >= 2, not {self.n_bands}")
        if 2 * (self.noise_bands - 1) > self.noise_frame:
            need = 2 * (self.noise_bands - 1)
            raise ValueError(f"{self.noise_bands} noise bands need noise frames of at least {need} samples; "
                             f"noise_strides give {self.noise_frame}")  # fmt: skip
        if self.encoder not in ("waveform", "mel"):
            raise ValueError(f"encoder must be 'waveform' or 'mel', not {self.encoder!r}")
        if self.decoder not in ("waveform", "spectral"):
            raise ValueError(f"decoder must be 'waveform' or 'spectral', not {self.decoder!r}")
        if self.decoder == "spectral" and self.encoder != "mel":
            raise ValueError("the spectral decoder goes with the mel encoder (neither uses the PQMF bands)")
        if self.encoder == "mel" and (self.mel_fft < self.hop or self.mel_fft % 2):
            raise ValueError(f"the mel encoder's FFT ({self.mel_fft}) must be even and at least the hop ({self.hop})")

    @property
    def hop(self) -> int:
        return self.n_bands * math.prod(self.strides)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def noise_frame(self) -> int:
        return math.prod(self.noise_strides)


def mod_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """RAVE's amplitude non-linearity: 2 sigmoid(x)^log(10) + 1e-7, in (0, 2], steep near silence."""
    return 2 * torch.sigmoid(x).pow(math.log(10)) + 1e-7


def impulse_response(amp: torch.Tensor, size: int) -> torch.Tensor:
    """A linear-phase FIR filter per frame from its magnitude response (as RAVE and DDSP's filtered noise).

    Args:
        amp: magnitudes [..., K] at K frequencies from 0 to Nyquist.
        size: length of the returned filter (>= 2 (K - 1)).

    Returns:
        [..., size]: the zero-phase response made causal, Hann-windowed, zero-padded.
    """
    ir = torch.fft.irfft(torch.complex(amp, torch.zeros_like(amp)))  # [..., 2 (K - 1)], zero phase
    n = ir.shape[-1]
    ir = torch.roll(ir, n // 2, -1) * torch.hann_window(n, dtype=ir.dtype, device=ir.device)
    return F.pad(ir, (0, size - n))


def fft_convolve(signal: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Linear convolution of [..., N] signals and kernels by FFT, truncated to the signal's N samples."""
    n = signal.shape[-1]
    spec = torch.fft.rfft(signal, 2 * n) * torch.fft.rfft(kernel, 2 * n)
    return torch.fft.irfft(spec, 2 * n)[..., :n]


class NoiseBranch(nn.Module):
    """Filtered noise per PQMF band: strided convolutions take the decoder's hidden signal to one spectral envelope
    of `noise_bands` points per band every `noise_frame` band samples; white noise is filtered by it frame by frame.

    In training the noise is fresh; in evaluation it is read from a fixed table at the stream's position, so the
    output is a function of the input and a stream decoded block by block equals the whole file.
    """

    table: torch.Tensor

    def __init__(self, channels: int, cfg: RAVEConfig) -> None:
        super().__init__()
        self.n_bands, self.noise_bands, self.frame = cfg.n_bands, cfg.noise_bands, cfg.noise_frame
        layers: list[nn.Module] = []
        for s in cfg.noise_strides:
            layers += [conv(channels, channels, 2 * s, s, causal=True) if cfg.causal
                       else conv(channels, channels, 2 * s, s, padding=s // 2), nn.LeakyReLU(0.2)]  # fmt: skip
        layers.append(conv(channels, cfg.n_bands * cfg.noise_bands, 3, causal=cfg.causal))
        self.net = nn.Sequential(*layers)
        g = torch.Generator().manual_seed(0)
        self.register_buffer("table", torch.rand(cfg.n_bands, 1 << 15, generator=g) * 2 - 1, persistent=False)
        self.streaming = False
        self.position = 0  # band samples already streamed

    def reset_stream(self, on: bool) -> None:
        self.streaming, self.position = on, 0

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Hidden [B, C, N'] (band rate) -> noise [B, n_bands, N']."""
        amp = mod_sigmoid(self.net(h) - 5)  # [B, n_bands * noise_bands, F]
        b, f = amp.shape[0], amp.shape[-1]
        amp = amp.reshape(b, self.n_bands, self.noise_bands, f).transpose(2, 3)  # [B, n_bands, F, noise_bands]
        ir = impulse_response(amp, self.frame)  # [B, n_bands, F, frame]
        if self.training:
            noise = torch.rand_like(ir) * 2 - 1
        else:
            start = self.position if self.streaming else 0
            idx = (start + torch.arange(f * self.frame, device=h.device)) % self.table.shape[-1]
            noise = self.table[:, idx].reshape(1, self.n_bands, f, self.frame).expand(b, -1, -1, -1)
            if self.streaming:
                self.position = start + f * self.frame
        return fft_convolve(noise, ir).reshape(b, self.n_bands, f * self.frame)


class Decoder(nn.Module):
    def __init__(self, cfg: RAVEConfig) -> None:
        super().__init__()
        c, k = cfg.decoder_channels, cfg.causal
        layers: list[nn.Module] = [conv(cfg.latent_dim, c, 7, causal=k)]
        for s in reversed(cfg.strides):
            layers.append(decoder_block(c, c // 2, s, causal=k))
            c //= 2
        layers.append(Snake(c))
        self.net = nn.Sequential(*layers)
        self.waveform = conv(c, cfg.n_bands, 7, causal=k)
        self.loudness = conv(c, 1, 3, causal=k)
        self.noise = NoiseBranch(c, cfg)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [B, D, T] -> bands [B, n_bands, T * prod(strides)]."""
        h = self.net(z)
        return torch.tanh(self.waveform(h)) * mod_sigmoid(self.loudness(h)) + self.noise(h)


class SpectralDecoder(nn.Module):
    """Latents [B, D, T] -> audio: causal ConvNeXt blocks at the frame rate predict each frame's STFT (log-magnitude
    and phase of `istft_hops` x hop points) and a causal inverse STFT overlaps them (Vocos, Siuzdak 2023, made causal;
    the codec's `VocosDecoder` is its centred form). Any partial at any frequency is one bin's magnitude and phase
    away, where the paper's transposed convolutions start from tones at their own stride's period (the waveform
    decoders trained here played 500 Hz whatever the input)."""

    def __init__(self, cfg: RAVEConfig) -> None:
        super().__init__()
        dim, n = cfg.decoder_channels, cfg.istft_hops * cfg.hop
        self.embed = conv(cfg.latent_dim, dim, 7, causal=True)
        self.norm = nn.LayerNorm(dim)
        self.blocks = nn.Sequential(*[ConvNeXtBlock(dim, 3 * dim, 1 / cfg.decoder_layers, causal=True)
                                      for _ in range(cfg.decoder_layers)])  # fmt: skip
        self.final_norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n + 2)  # log-magnitude and phase of n / 2 + 1 bins
        self.istft = CausalISTFT(n, cfg.hop)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [B, D, T] -> audio [B, 1, T x hop (+ the delay on a whole signal, see `CausalISTFT`)]."""
        x = self.norm(self.embed(z).transpose(1, 2)).transpose(1, 2)
        h = self.head(self.final_norm(self.blocks(x).transpose(1, 2)))  # [B, T, n + 2]
        log_mag, phase = h.float().chunk(2, dim=-1)
        mag = torch.exp(log_mag).clamp(max=100.0)
        return self.istft(torch.complex(mag * torch.cos(phase), mag * torch.sin(phase)))[:, None]


def _encoder_config(cfg: RAVEConfig) -> CodecConfig:
    """The codec's encoder, reused: its latent holds the posterior's mean and scale."""
    return CodecConfig(sample_rate=cfg.sample_rate, n_bands=cfg.n_bands, channels=cfg.channels, strides=cfg.strides,
                       latent_dim=2 * cfg.latent_dim, causal=cfg.causal, dilated_downsampling=False)  # fmt: skip


class RAVE(Pretrained, nn.Module):
    """The variational autoencoder: `posterior`, `encode` (PCA basis) / `decode`, `forward` for training."""

    kind: ClassVar[str] = "rave"
    config_cls: ClassVar[type] = RAVEConfig
    shipped: ClassVar[str | None] = "rave-violin"
    cfg: RAVEConfig
    latent_mean: torch.Tensor
    latent_components: torch.Tensor
    latent_variance: torch.Tensor

    def __init__(self, cfg: RAVEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.pqmf: PQMF | CausalPQMF = CausalPQMF(cfg.n_bands) if cfg.causal else PQMF(cfg.n_bands)
        self.delay = self.pqmf.delay if isinstance(self.pqmf, CausalPQMF) else 0
        if cfg.decoder == "spectral":
            self.delay = (cfg.istft_hops - 1) * cfg.hop
        self.encoder: nn.Module = (MelEncoder(cfg.sample_rate, cfg.mel_fft, cfg.hop, cfg.n_mels, 8 * cfg.channels,
                                               2 * cfg.latent_dim, cfg.causal)
                                    if cfg.encoder == "mel" else Encoder(_encoder_config(cfg)))  # fmt: skip
        self.decoder: nn.Module = SpectralDecoder(cfg) if cfg.decoder == "spectral" else Decoder(cfg)
        d = cfg.latent_dim
        # the PCA of the training posterior means (set by `analyse_latents`; identity until then)
        self.register_buffer("latent_mean", torch.zeros(d))
        self.register_buffer("latent_components", torch.eye(d))  # rows: principal directions, by variance
        self.register_buffer("latent_variance", torch.ones(d))
        self.sample_rate = cfg.sample_rate
        self._streaming = False

    # ---- the halves
    def posterior(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio [B, 1, N] (N a multiple of the hop) -> (mean, std), each [B, D, N / hop]."""
        if audio.shape[-1] % self.cfg.hop:
            raise ValueError(f"{audio.shape[-1]} samples is not a whole number of {self.cfg.hop}-sample frames")
        inputs = audio if self.cfg.encoder == "mel" else self.pqmf.analysis(audio)
        mean, scale = self.encoder(inputs).chunk(2, dim=1)
        return mean, F.softplus(scale) + 1e-4

    def synthesis(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [B, D, T] (the encoder's basis) -> audio [B, 1, T * hop], aligned with the input; in a stream it
        lags by `delay` samples."""
        if self.cfg.decoder == "spectral":  # whole: the overlap's tail is there, the delay is taken back exactly
            y = self.decoder(z)
            return y if self._streaming else y[..., self.delay :]
        y = self.pqmf.synthesis(self.decoder(z))
        if self.delay and not self._streaming:
            y = F.pad(y[..., self.delay :], (0, self.delay))
        return y

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio [B, 1, N] -> (reconstruction from a posterior sample [B, 1, N], KL per frame), for training."""
        mean, std = self.posterior(audio)
        z = mean + std * torch.randn_like(mean)
        kl = 0.5 * (mean.pow(2) + std.pow(2) - 2 * std.log() - 1).sum(1).mean()
        return self.synthesis(z), kl

    # ---- the latent in its PCA basis (what users and the prior see)
    @torch.no_grad()
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio [B, 1, N] -> latents [B, D, ceil((N + delay) / hop)]: posterior means in the PCA basis, the
        dimensions sorted by the variance they carry. In a stream, N must be a whole number of frames."""
        mean, _ = self.posterior(audio if self._streaming else self.pad_to_frames(audio))
        return torch.einsum("kd,bdt->bkt", self.latent_components, mean - self.latent_mean[:, None])

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents [B, k, T] in the PCA basis (k <= D; missing dimensions are zero, their mean) -> audio."""
        if latents.shape[1] < self.cfg.latent_dim:
            latents = F.pad(latents, (0, 0, 0, self.cfg.latent_dim - latents.shape[1]))
        z = torch.einsum("kd,bkt->bdt", self.latent_components, latents) + self.latent_mean[:, None]
        return self.synthesis(z)

    def fidelity_dims(self, fidelity: float) -> int:
        """How many PCA dimensions hold `fidelity` (0..1] of the latent variance (RAVE's fidelity setting)."""
        share = torch.cumsum(self.latent_variance, 0) / self.latent_variance.sum().clamp_min(1e-12)
        return int(min(self.cfg.latent_dim, int((share < fidelity - 1e-9).sum()) + 1))

    def pad_to_frames(self, audio: torch.Tensor) -> torch.Tensor:
        """Zeros at the end: whole frames covering the audio and the causal delay."""
        return F.pad(audio, (0, (-(audio.shape[-1] + self.delay)) % self.cfg.hop + self.delay))

    # ---- streaming
    @property
    def latency(self) -> int:
        """Samples from an input sample to its output in a stream: a frame to fill a block, plus the delay."""
        return self.cfg.hop + self.delay

    @contextlib.contextmanager
    def stream(self) -> Iterator["RAVE"]:
        """Within the block, `encode` / `decode` / `posterior` / `synthesis` take a stream in blocks of whole frames,
        each call continuing the last (a causal model only)."""
        if not self.cfg.causal:
            raise ValueError("only a causal RAVE streams (RAVEConfig(causal=True)); this one looks ahead")
        self._streaming = True
        try:
            with streaming(self), parametrize.cached():
                yield self
        finally:
            self._streaming = False

    @torch.no_grad()
    def resynthesize(self, audio: torch.Tensor, dims: int | None = None, bias: torch.Tensor | None = None,
                     scale: torch.Tensor | None = None, chunk_frames: int = 256) -> torch.Tensor:  # fmt: skip
        """Audio [1, 1, N] -> audio [1, 1, N] through the latent (timbre transfer, when the model learned another
        sound): `dims` PCA dimensions kept (the fidelity), then per dimension `z * scale + bias`. A causal model
        streams in chunks (bounded memory for any length)."""
        n = audio.shape[-1]

        def through(z: torch.Tensor) -> torch.Tensor:
            k = dims or self.cfg.latent_dim
            z = z[:, :k]
            if scale is not None:
                z = z * scale[:k, None]
            if bias is not None:
                z = z + bias[:k, None]
            return self.decode(z)

        x = self.pad_to_frames(audio)
        if not self.cfg.causal:
            return through(self.encode(audio))[..., :n]
        hop = self.cfg.hop
        with self.stream():
            y = torch.cat([through(self.encode(x[..., i : i + chunk_frames * hop]))
                           for i in range(0, x.shape[-1], chunk_frames * hop)], -1)  # fmt: skip
        return y[..., self.delay : self.delay + n]


def remove_weight_norm(model: nn.Module) -> nn.Module:
    """Fold every weight-norm parametrization into a plain weight (in place): for export and faster inference."""
    for m in model.modules():
        if parametrize.is_parametrized(m):
            for name in list(m.parametrizations.keys()):  # type: ignore[union-attr,operator]
                parametrize.remove_parametrizations(m, name, leave_parametrized=True)
    return model
