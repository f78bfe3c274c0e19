"""A neural audio codec in the manner of DAC (Kumar et al. 2023, https://arxiv.org/abs/2306.06546): a
convolutional encoder and decoder with Snake activations and dilated residual units around a residual vector
quantizer with quantizer dropout. The quantizer's lookups are Euclidean with moving-average codebooks (as
EnCodec) by default, or DAC's factorized codes (`factorized=True`); see `cadenza.nn.quantize` for why.
`CodecConfig(n_codebooks=1, ema=False, quantizer_dropout=0)` is the VQ-VAE baseline of van den Oord et al. 2017
in the same code.

For this CPU the waveform is first split into `n_bands` PQMF sub-bands (as RAVE and Multi-band MelGAN do), so
the convolutions run at a quarter of the sample rate; the decoder predicts the sub-bands and the PQMF
synthesis puts them back together.

    audio [B, 1, N] -> PQMF -> Encoder -> z [B, D, T] -> ResidualVQ -> codes [B, K, T]
    codes -> ResidualVQ.decode -> Decoder -> PQMF synthesis -> audio [B, 1, T * hop]

Two other ends: `decoder="vocos"` (ConvNeXt blocks predicting STFT frames, then the inverse STFT; no PQMF) and
`encoder="mel"` (`MelEncoder`: a fixed STFT's log-mel frames into convolutions at the frame rate; no PQMF). The
waveform encoder must learn to find the pitch in the bands, which on this CPU's budget it barely does; the log-mel
holds it from the first step (as RAVE's `encoder="mel"`).

`Codec` implements the `CompressionModel` seam of the token models (as in audiocraft): `encode(audio) ->
codes [B, K, T]`, `decode(codes) -> audio`, `sample_rate`, `frame_rate`, `n_codebooks`, `cardinality`.
Long audio goes through `encode_chunked` / `decode_chunked`: fixed-size chunks with enough context on each
side to cover the receptive field, so the result equals a one-shot pass while memory stays bounded.

`CodecConfig(causal=True)` is the streaming variant (for live use: Synthformer's live mode, RAVE): every
convolution and the PQMF look only back (`cadenza.nn.streaming`), so within `codec.stream()` blocks of whole
frames go through `encode` and `decode` one after another and give exactly the whole file's result, lagging by
`codec.delay` samples (the PQMF's 64 taps, 4 ms); the latency is one block plus that delay (24 ms with 20 ms
blocks). The non-causal codec, which looks ahead, stays the default where latency does not matter.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from cadenza.audio.dsp import PQMF, SALIENCE_NOTES, mel_filterbank, pitch_salience
from cadenza.nn.quantize import QuantizerOutput, ResidualVQ
from cadenza.nn.streaming import CausalConv1d, CausalPQMF, CausalUpsample, StreamCache, streaming
from cadenza.pretrained import Pretrained

# the note codebook's codes: 0 where no note sounds (the frame below `NOTE_FLOOR_DB`), then each note of
# `SALIENCE_NOTES` (MIDI 28-100) from the lowest
N_NOTE_CODES = SALIENCE_NOTES[1] - SALIENCE_NOTES[0] + 2
NOTE_FLOOR_DB = -60.0  # frame RMS in dBFS: an absolute floor, so a frame's code does not depend on its neighbours


def note_codes(audio: torch.Tensor, sample_rate: int, hop: int) -> torch.Tensor:
    """The note codebook's codes of audio [B, 1, N]: [B, N // hop], each frame's dominant note (the argmax of the
    harmonic-sum pitch salience: the fundamental where one tone sounds, the loudest where several do) as 1 + its
    offset from MIDI `SALIENCE_NOTES[0]`, or 0 where the frame's RMS is below `NOTE_FLOOR_DB`."""
    x = audio[:, 0]
    t = x.shape[-1] // hop
    with torch.no_grad():
        notes = pitch_salience(x, sample_rate, hop).argmax(1)[:, :t] + 1  # [B, T]
        rms_db = 10 * torch.log10(x[:, : t * hop].reshape(x.shape[0], t, hop).pow(2).mean(-1) + 1e-20)
    return torch.where(rms_db > NOTE_FLOOR_DB, notes, torch.zeros_like(notes))


class CompressionModel(Protocol):
    sample_rate: int
    frame_rate: float
    n_codebooks: int
    cardinality: int

    def encode(self, audio: torch.Tensor, n_codebooks: int | None = None) -> torch.Tensor: ...

    def decode(self, codes: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class CodecConfig:
    sample_rate: int = 16000
    n_bands: int = 4  # PQMF sub-bands in front of the encoder (1: none, as in DAC)
    channels: int = 32  # encoder width after the first convolution; doubles at each down-sampling
    strides: tuple[int, ...] = (4, 4, 5)  # the hop is n_bands * prod(strides)
    latent_dim: int = 64
    decoder_channels: int = 256  # decoder width before the first up-sampling; halves at each
    n_codebooks: int = 12
    cardinality: int = 1024
    codebook_dim: int = 8
    factorized: bool = False  # True: DAC's low-dimensional L2-normalized lookups; False: Euclidean (EnCodec)
    ema: bool = True  # codebooks learn by moving averages (EnCodec); False: by the codebook loss (DAC)
    quantizer_dropout: float = 0.5
    causal: bool = False  # True: causal convolutions and PQMF, no look-ahead: streams block by block
    # the down-sampling convolutions are dilated by ceil(stride / 2): the shipped models' architecture (a slip that
    # passed DAC's padding as the dilation), kept so their weights load; False: DAC's undilated ones
    dilated_downsampling: bool = True
    decoder: str = "conv"  # "conv": transposed convolutions to the PQMF bands; "vocos": ConvNeXt + iSTFT
    decoder_layers: int = 8  # ConvNeXt blocks of the "vocos" decoder (its width is decoder_channels)
    # "waveform": strided convolutions over the PQMF bands (DAC's); "mel": a fixed STFT's log-mel, then convolutions
    # over its frames (`MelEncoder`, 8 x channels wide), which hold the pitch from the first step
    encoder: str = "waveform"
    mel_fft: int = 2048  # the "mel" encoder's STFT size (frames centred on their hop; causal: ending at its end)
    n_mels: int = 128
    # True: the first codebook is the note, not a learned code: each frame's dominant note (harmonic-sum pitch
    # salience, `note_codes`), looked up in a learned table, and the residual quantizers code what it leaves
    note_codebook: bool = False

    def __post_init__(self) -> None:
        if self.decoder not in ("conv", "vocos"):
            raise ValueError(f"unknown codec decoder {self.decoder!r} (conv or vocos)")
        if self.encoder not in ("waveform", "mel"):
            raise ValueError(f"unknown codec encoder {self.encoder!r} (waveform or mel)")
        if self.encoder == "mel" and (self.mel_fft < self.hop or self.mel_fft % 2):
            raise ValueError(f"the mel encoder's FFT ({self.mel_fft}) must be even and at least the hop ({self.hop})")
        if self.decoder == "vocos" and self.causal:
            raise ValueError("the vocos decoder is not causal (its iSTFT frames overlap the next); use decoder='conv'")
        if self.note_codebook and (self.causal or self.n_codebooks < 2 or self.cardinality < N_NOTE_CODES):
            raise ValueError(f"a note codebook needs a non-causal codec (its pitch salience looks ahead), 2 or more "
                             f"codebooks and a cardinality of at least {N_NOTE_CODES}")  # fmt: skip

    @property
    def hop(self) -> int:
        return self.n_bands * math.prod(self.strides)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def kbps(self, n_codebooks: int | None = None) -> float:
        """Bitrate of `n_codebooks` codebooks (all by default): frame rate x codebooks x log2(cardinality)."""
        return self.frame_rate * (n_codebooks or self.n_codebooks) * math.log2(self.cardinality) / 1000

    def codebooks_for(self, kbps: float) -> int:
        """The most codebooks whose bitrate does not exceed `kbps` (at least 1)."""
        per = self.kbps(1)
        return max(1, min(self.n_codebooks, int(kbps / per + 1e-9)))


class Snake(nn.Module):
    """x + sin^2(alpha x) / alpha, a learned periodic activation per channel (Ziyin et al. 2020; DAC, BigVGAN)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (self.alpha + 1e-9).reciprocal() * torch.sin(self.alpha * x).pow(2)


_Conv = TypeVar("_Conv", nn.Conv1d, nn.ConvTranspose1d)


def _init(layer: _Conv) -> _Conv:
    # Zero biases, default (variance-keeping) weights. With random biases, or with DAC's tiny weights
    # (std 0.02), the encoder's output is a tiny signal under an offset that the first Adam steps make
    # larger still: every frame points the same way and each quantizer collapses to one code.
    assert layer.bias is not None
    nn.init.zeros_(layer.bias)
    return weight_norm(layer)


def conv(
    c_in: int,
    c_out: int,
    kernel: int,
    stride: int = 1,
    dilation: int = 1,
    padding: int | None = None,
    bias: bool = True,
    causal: bool = False,
) -> nn.Module:
    """A weight-normed convolution, centred (`padding` defaults to half the receptive field) or causal."""
    if causal:
        layer = CausalConv1d(c_in, c_out, kernel, stride, dilation, bias=bias)
        layer.conv = _init(layer.conv) if bias else weight_norm(layer.conv)
        return layer
    pad = (kernel - 1) * dilation // 2 if padding is None else padding
    inner = nn.Conv1d(c_in, c_out, kernel, stride, pad, dilation, bias=bias)
    return _init(inner) if bias else weight_norm(inner)


class ResidualUnit(nn.Module):
    def __init__(self, channels: int, dilation: int, bias: bool = True, causal: bool = False) -> None:
        super().__init__()
        self.block = nn.Sequential(Snake(channels), conv(channels, channels, 7, dilation=dilation, bias=bias,
                                                         causal=causal),
                                   Snake(channels), conv(channels, channels, 1, bias=bias))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def encoder_block(c_in: int, c_out: int, stride: int, causal: bool = False, dilated: bool = True) -> nn.Sequential:
    units = [ResidualUnit(c_in, d, bias=False, causal=causal) for d in (1, 3, 9)]
    if dilated:
        down = conv(c_in, c_out, 2 * stride, stride, dilation=math.ceil(stride / 2), bias=False, causal=causal)
    else:
        down = conv(c_in, c_out, 2 * stride, stride, padding=math.ceil(stride / 2), bias=False, causal=causal)
    return nn.Sequential(*units, Snake(c_in), down)


def decoder_block(c_in: int, c_out: int, stride: int, causal: bool = False) -> nn.Sequential:
    up: nn.Module
    if causal:
        up = CausalUpsample(c_in, c_out, stride)
        up.conv = weight_norm(up.conv)
    else:
        up = _init(nn.ConvTranspose1d(c_in, c_out, 2 * stride, stride, padding=math.ceil(stride / 2),
                                      output_padding=stride % 2))  # fmt: skip
    units = [ResidualUnit(c_out, d, causal=causal) for d in (1, 3, 9)]
    return nn.Sequential(Snake(c_in), up, *units)


class Encoder(nn.Module):
    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        c = cfg.channels
        # no biases in the encoder: an offset common to every frame would drown the latents' variation and
        # make every frame pick the same code
        k = cfg.causal
        layers: list[nn.Module] = [conv(cfg.n_bands, c, 7, bias=False, causal=k)]
        for s in cfg.strides:
            layers.append(encoder_block(c, 2 * c, s, causal=k, dilated=cfg.dilated_downsampling))
            c *= 2
        layers += [Snake(c), conv(c, cfg.latent_dim, 3, bias=False, causal=k)]
        self.net = nn.Sequential(*layers)

    def forward(self, bands: torch.Tensor) -> torch.Tensor:
        """Sub-bands [B, n_bands, N / n_bands] -> latents [B, D, T]."""
        return self.net(bands)


class MelEncoder(nn.Module):
    """Audio [B, 1, N] -> a log-mel spectrogram, one frame per hop (a fixed STFT written as a strided convolution, so
    that it streams like the rest), then convolutions over the frames -> [B, out_dim, N / hop]. The codec's
    `encoder="mel"` and RAVE's.

    A waveform encoder must learn to find the pitch in the bands; here the STFT's bins (7.8 Hz apart at 2,048
    points and 16 kHz) hold it from the first step: a linear read-out of this log-mel predicts a violin's pitch at
    r 0.95 where the waveform encoders trained here (RAVE's, the codec's) hold little of it."""

    basis: torch.Tensor
    mel: torch.Tensor

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int, width: int, out_dim: int,
                 causal: bool = False) -> None:  # fmt: skip
        super().__init__()
        n, k = n_fft, causal
        bins = n // 2 + 1
        angle = 2 * math.pi * torch.arange(bins)[:, None] * torch.arange(n)[None] / n
        window = torch.hann_window(n, periodic=True)
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * window  # [2 x bins, n]: real, imaginary
        # fixed, rebuilt at load (not saved: the basis is 4M numbers): a causal encoder keeps the last n - hop samples
        self.register_buffer("basis", basis[:, None], persistent=False)
        self.register_buffer("mel", torch.from_numpy(mel_filterbank(sample_rate, n, n_mels)), persistent=False)
        self.left = StreamCache(n - hop if k else 0)
        self.hop, self.pad = hop, 0 if k else (n - hop) // 2
        layers: list[nn.Module] = [conv(n_mels, width, 3, bias=False, causal=k)]
        layers += [ResidualUnit(width, d, bias=False, causal=k) for d in (1, 3, 9)]
        layers += [Snake(width), conv(width, out_dim, 3, bias=False, causal=k)]
        self.net = nn.Sequential(*layers)

    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio [B, 1, N] -> [B, 2 x bins, N / hop]: real and imaginary parts, frame t ending at sample (t + 1) hop
        (causal) or centred on its hop."""
        x = self.left(audio) if self.pad == 0 else F.pad(audio, (self.pad, self.pad))
        return F.conv1d(x, self.basis, stride=self.hop)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        re, im = self.stft(audio).chunk(2, dim=1)
        mel = torch.einsum("mf,bft->bmt", self.mel, (re.pow(2) + im.pow(2) + 1e-12).sqrt())
        return self.net(torch.log(mel + 1e-5))


# TorchScript (RAVE's export) reads the buffers' types from the class's annotations, which this module's
# `from __future__ import annotations` leaves as strings it cannot resolve
MelEncoder.__annotations__.update(basis=torch.Tensor, mel=torch.Tensor)


class Decoder(nn.Module):
    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        c = cfg.decoder_channels
        k = cfg.causal
        layers: list[nn.Module] = [conv(cfg.latent_dim, c, 7, causal=k)]
        for s in reversed(cfg.strides):
            layers.append(decoder_block(c, c // 2, s, causal=k))
            c //= 2
        layers += [Snake(c), conv(c, cfg.n_bands, 7, causal=k)]
        if cfg.n_bands == 1:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [B, D, T] -> sub-bands [B, n_bands, T * prod(strides)]."""
        return self.net(z)


class ConvNeXtBlock(nn.Module):
    """Depthwise convolution (7 frames; causal: the last 7), LayerNorm, a pointwise MLP and a learned layer scale
    (Liu et al. 2022)."""

    def __init__(self, dim: int, hidden: int, layer_scale: float, causal: bool = False) -> None:
        super().__init__()
        self.depthwise: nn.Module = (CausalConv1d(dim, dim, 7, groups=dim) if causal
                                     else nn.Conv1d(dim, dim, 7, padding=3, groups=dim))  # fmt: skip
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.scale = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.depthwise(x).transpose(1, 2))) * self.scale
        return x + y.transpose(1, 2)


class VocosDecoder(nn.Module):
    """The decoder of Vocos (Siuzdak 2023, https://arxiv.org/abs/2306.00814; WavTokenizer's): ConvNeXt blocks at the
    frame rate predict each frame's STFT magnitude (log) and phase, and the inverse STFT (window 4 x hop, hop the
    codec's) gives the waveform. Every layer runs at the frame rate, not the sample rate: far cheaper than
    transposed convolutions, and the phase is free to be anything the frames agree on."""

    window: torch.Tensor

    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        dim, self.hop, self.n_fft = cfg.decoder_channels, cfg.hop, 4 * cfg.hop
        self.embed = nn.Conv1d(cfg.latent_dim, dim, 7, padding=3)
        self.norm = nn.LayerNorm(dim)
        self.blocks = nn.Sequential(*[ConvNeXtBlock(dim, 3 * dim, 1 / cfg.decoder_layers)
                                      for _ in range(cfg.decoder_layers)])  # fmt: skip
        self.final_norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, self.n_fft + 2)  # log-magnitude and phase of n_fft / 2 + 1 bins
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [B, D, T] -> audio [B, 1, T * hop]."""
        return self.istft(self.spectrum(z))[:, None]

    def spectrum(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [B, D, T] -> the complex STFT frames [B, T, n_fft / 2 + 1] that the iSTFT turns into audio."""
        x = self.norm(self.embed(z).transpose(1, 2)).transpose(1, 2)
        h = self.head(self.final_norm(self.blocks(x).transpose(1, 2)))  # [B, T, n_fft + 2]
        log_mag, phase = h.float().chunk(2, dim=-1)
        mag = torch.exp(log_mag).clamp(max=100.0)
        return torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))

    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio [B, T * hop] -> [B, T, n_fft / 2 + 1]: the frames `istft` would turn back into it (same window, frame
        t centred on the middle of the t-th hop): the target of the phase losses."""
        t, pad = audio.shape[-1] // self.hop, (self.n_fft - self.hop) // 2
        x = F.pad(audio[..., : t * self.hop], (pad, pad))
        return torch.fft.rfft(x.unfold(-1, self.n_fft, self.hop)[..., :t, :] * self.window, n=self.n_fft)

    def istft(self, spec: torch.Tensor) -> torch.Tensor:
        """Frames [B, T, n_fft / 2 + 1] -> [B, T * hop]: windowed overlap-add, frame t centred on the middle of the
        t-th hop ("same" padding, as Vocos), normalised by the summed squared window."""
        b, t, _ = spec.shape
        n, hop = self.n_fft, self.hop
        frames = torch.fft.irfft(spec, n=n) * self.window  # [B, T, n]
        size = (1, (t - 1) * hop + n)
        y = F.fold(frames.transpose(1, 2), size, (1, n), stride=(1, hop))[:, 0, 0]
        env = F.fold(self.window.square().expand(1, t, n).transpose(1, 2), size, (1, n), stride=(1, hop))[:, 0, 0]
        pad = (n - hop) // 2
        return y[:, pad : pad + t * hop] / env[:, pad : pad + t * hop].clamp(min=1e-4)


class Codec(Pretrained, nn.Module):
    """Encoder + residual VQ + decoder; a `CompressionModel`."""

    kind: ClassVar[str] = "codec"
    config_cls: ClassVar[type] = CodecConfig
    shipped: ClassVar[str | None] = "codec"
    cfg: CodecConfig

    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.pqmf: PQMF | CausalPQMF | None = None
        if cfg.n_bands > 1:
            self.pqmf = CausalPQMF(cfg.n_bands) if cfg.causal else PQMF(cfg.n_bands)
        # a causal codec's output lags its input by the PQMF's delay; whole-signal decoding takes it back
        self.delay = self.pqmf.delay if isinstance(self.pqmf, CausalPQMF) else 0
        self._streaming = False
        self.encoder: Encoder | MelEncoder = (
            MelEncoder(cfg.sample_rate, cfg.mel_fft, cfg.hop, cfg.n_mels, 8 * cfg.channels, cfg.latent_dim, cfg.causal)
            if cfg.encoder == "mel" else Encoder(cfg))  # fmt: skip
        # with a note codebook the residual quantizers are the codebooks after it
        self.quantizer = ResidualVQ(cfg.latent_dim, cfg.n_codebooks - cfg.note_codebook, cfg.cardinality,
                                    cfg.codebook_dim, cfg.quantizer_dropout, cfg.factorized, cfg.ema)  # fmt: skip
        self.notes: nn.Embedding | None = None
        if cfg.note_codebook:  # zeros at first: a codec started from one without it codes as before
            self.notes = nn.Embedding(N_NOTE_CODES, cfg.latent_dim)
            nn.init.zeros_(self.notes.weight)
        self.decoder = VocosDecoder(cfg) if cfg.decoder == "vocos" else Decoder(cfg)
        self.sample_rate = cfg.sample_rate
        self.frame_rate = cfg.frame_rate
        self.n_codebooks = cfg.n_codebooks
        self.cardinality = cfg.cardinality

    # ---- the waveform <-> latent halves
    def config_dict(self) -> dict[str, Any]:
        """config.json also records the model's id, which its codes files carry."""
        return {"model": asdict(self.cfg), **getattr(self, "extra", {}), "model_id": model_id(self)}

    def analysis(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio [B, 1, N] (N a multiple of the hop) -> continuous latents [B, D, N / hop]."""
        if audio.shape[-1] % self.cfg.hop:
            what = "a streamed block of" if self._streaming else "audio length"
            raise ValueError(f"{what} {audio.shape[-1]} samples is not a whole number of frames (hop {self.cfg.hop})")
        if self.pqmf is None or self.cfg.encoder == "mel":
            return self.encoder(audio)
        return self.encoder(self.pqmf.analysis(audio))

    def synthesis(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [B, D, T] -> audio [B, 1, T * hop], aligned with the input (a causal codec's last `delay`
        samples are then zeros: encode pads the audio to cover them). In a stream, the output lags by `delay`."""
        y = self.decoder(z)
        if self.pqmf is not None and self.cfg.decoder == "conv":
            y = self.pqmf.synthesis(y)
        if self.delay and not self._streaming:
            y = torch.nn.functional.pad(y[..., self.delay :], (0, self.delay))
        return y

    @property
    def latency(self) -> int:
        """Samples from an input sample to its output in a stream: one frame to fill a block, plus the delay."""
        return self.cfg.hop + self.delay

    @contextlib.contextmanager
    def stream(self) -> Iterator[Codec]:
        """Within the block, `analysis` / `encode` and `synthesis` / `decode` take a stream in blocks of whole frames
        (any number); each call continues the last. Only a causal codec streams.

            with codec.stream():
                for block in blocks:                        # [1, 1, n x hop] each
                    out = codec.decode(codec.encode(block))  # lags the input by `codec.delay` samples
        """
        if not self.cfg.causal:
            raise ValueError("only a causal codec streams (CodecConfig(causal=True)); this one looks ahead")
        self._streaming = True
        try:  # streaming is inference: weight norm's weights are computed once for the whole stream
            with streaming(self), parametrize.cached():
                yield self
        finally:
            self._streaming = False

    def forward(self, audio: torch.Tensor, n_quantizers: int | None = None) -> tuple[torch.Tensor, QuantizerOutput]:
        """Audio [B, 1, N] -> (reconstruction [B, 1, N], quantizer output) for training."""
        q = self.quantize(audio, n_quantizers)
        return self.synthesis(q.z_q), q

    # ---- the codes
    def quantize(self, audio: torch.Tensor, n_quantizers: int | None = None,
                 note_alone: float | None = None) -> QuantizerOutput:  # fmt: skip
        """Audio [B, 1, N] (whole frames) -> its latent quantized with the first `n_quantizers` codebooks (all by
        default; in training with quantizer dropout, a random number per item). With a note codebook, the first
        code of each frame is its note (`note_codes`) and the residual quantizers code the latent minus that note's
        vector; in training a share `note_alone` of the items (default `quantizer_dropout / n_codebooks`) decode
        from the note alone: only they teach the note's vectors, which the residual codes otherwise cancel."""
        z = self.analysis(audio)
        if self.notes is None:
            return self.quantizer(z, n_quantizers)
        notes = note_codes(audio, self.cfg.sample_rate, self.cfg.hop)[..., : z.shape[-1]]
        z_note = self.notes(notes).transpose(1, 2)
        if n_quantizers == 1:
            zero = z.new_zeros(())
            return QuantizerOutput(z_note, notes[:, None], zero, zero, z_note)
        q = self.quantizer(z - z_note, None if n_quantizers is None else n_quantizers - 1)
        z_rest = q.z_q
        share = self.cfg.quantizer_dropout / self.n_codebooks if note_alone is None else note_alone
        if self.training and n_quantizers is None and share > 0:
            alone = torch.rand(z.shape[0], device=z.device) < share
            z_rest = z_rest * (~alone).to(z)[:, None, None]
        codes = torch.cat([notes[:, None], q.codes], 1)
        return QuantizerOutput(z_note + z_rest, codes, q.commitment_loss, q.codebook_loss, z_note)

    def dequantize(self, codes: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        """Codes [B, K, T] (any K <= n_codebooks) -> the quantized latent [B, D, T]. `active` [B]: how many of its
        first codebooks each item sums (all by default; at least the first). A note code outside the notes' range
        (a token model's slip) reads as no note."""
        parts = []
        rest = codes
        if self.notes is not None:
            notes = codes[:, 0]
            parts.append(self.notes(torch.where(notes < N_NOTE_CODES, notes, 0)).transpose(1, 2))
            rest = codes[:, 1:]
        quantizers = self.quantizer.quantizers
        parts += [quantizers[i].decode(rest[:, i]) for i in range(rest.shape[1])]  # type: ignore[operator]
        z = parts[0]
        for i, part in enumerate(parts[1:], 1):
            z = z + (part if active is None else part * (i < active).to(part)[:, None, None])
        return z

    def code_vectors(self, n_codebooks: int) -> torch.Tensor:
        """The vectors the first `n_codebooks` codebooks look up: [n_codebooks, cardinality, size] (the note table
        padded with zeros to the cardinality). Token models may start their embeddings from them."""
        tables = [q.codebook.weight.detach().float() for q in self.quantizer.quantizers]  # type: ignore[union-attr,operator]
        if self.notes is not None:
            notes = self.notes.weight.detach().float()
            tables.insert(0, F.pad(notes, (0, 0, 0, self.cardinality - len(notes))))
        return torch.stack(tables[:n_codebooks])

    # ---- CompressionModel
    @torch.no_grad()
    def encode(self, audio: torch.Tensor, n_codebooks: int | None = None) -> torch.Tensor:
        """Audio [B, 1, N] -> codes [B, K, ceil((N + delay) / hop)] (zero-padded to whole frames, and for a causal
        codec to cover the delay too). In a stream, N must be a whole number of frames."""
        audio = audio if self._streaming else self.pad_to_frames(audio)
        return self.quantize(audio, n_codebooks or self.n_codebooks).codes

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, K, T] (any K <= n_codebooks) -> audio [B, 1, T * hop]."""
        return self.synthesis(self.dequantize(codes))

    def pad_to_frames(self, audio: torch.Tensor) -> torch.Tensor:
        """Zeros at the end, to whole frames that cover the audio and the causal delay."""
        return torch.nn.functional.pad(audio, (0, (-(audio.shape[-1] + self.delay)) % self.cfg.hop + self.delay))

    def context_frames(self) -> int:
        """Frames of context each side that cover the receptive field of the decoder (and of the encoder)."""
        strides = list(self.cfg.strides)
        # decoder: conv_in (3 frames), then per stage a transposed conv (~1 input frame) and residual units
        # (3 * (1 + 3 + 9) samples at the stage's rate), then conv_out (3 samples); the encoder mirrors it.
        frames, rate = 3.0, 1
        for s in reversed(strides):
            frames += 1.0 / rate
            rate *= s
            frames += 39.0 / rate
        frames += 3.0 / rate + 64.0 / (rate * self.cfg.n_bands)  # PQMF filters
        if self.cfg.decoder == "vocos":  # embed (3 frames), 3 per ConvNeXt block, the iSTFT's overlap (2)
            frames = max(frames, 3 + 3 * self.cfg.decoder_layers + 2)
        if self.cfg.encoder == "mel":  # the STFT's half window, two 3-tap convolutions, units of 7 taps at 1, 3, 9
            frames = max(frames, self.cfg.mel_fft / 2 / self.cfg.hop + 2 + 3 * (1 + 3 + 9))
        return math.ceil(frames) + 2

    @torch.no_grad()
    def encode_chunked(
        self, audio: torch.Tensor, n_codebooks: int | None = None, chunk_frames: int = 250
    ) -> torch.Tensor:
        """`encode` in chunks of `chunk_frames` frames plus context: bounded memory for any length. A causal codec
        streams the chunks instead, which needs no context."""
        hop, ctx = self.cfg.hop, self.context_frames()
        audio = self.pad_to_frames(audio)
        n_frames = audio.shape[-1] // hop
        if self.cfg.causal:
            with self.stream():
                blocks = [audio[..., i * hop : (i + chunk_frames) * hop] for i in range(0, n_frames, chunk_frames)]
                return torch.cat([self.encode(b, n_codebooks) for b in blocks], -1)
        out = []
        for start in range(0, n_frames, chunk_frames):
            a, b = max(0, start - ctx), min(n_frames, start + chunk_frames + ctx)
            codes = self.quantize(audio[..., a * hop : b * hop], n_codebooks or self.n_codebooks).codes
            out.append(codes[..., start - a : start - a + min(chunk_frames, n_frames - start)])
        return torch.cat(out, -1)

    @torch.no_grad()
    def decode_chunked(self, codes: torch.Tensor, chunk_frames: int = 250) -> torch.Tensor:
        """`decode` in chunks of `chunk_frames` frames plus context; equal to decoding at once."""
        hop, ctx = self.cfg.hop, self.context_frames()
        n_frames = codes.shape[-1]
        if self.cfg.causal:
            with self.stream():
                blocks = [codes[..., i : i + chunk_frames] for i in range(0, n_frames, chunk_frames)]
                y = torch.cat([self.decode(b) for b in blocks], -1)
            return torch.nn.functional.pad(y[..., self.delay :], (0, self.delay))
        out = []
        for start in range(0, n_frames, chunk_frames):
            a, b = max(0, start - ctx), min(n_frames, start + chunk_frames + ctx)
            audio = self.decode(codes[..., a:b])
            n = min(chunk_frames, n_frames - start)
            out.append(audio[..., (start - a) * hop : (start - a + n) * hop])
        return torch.cat(out, -1)


def codec_for(name: str | Path, expected_id: str = "") -> Codec:
    """The codec a token model reads (a shipped name or a folder), checked to be the one it was trained on: a codec
    with other weights makes other codes.

    Raises:
        InputError: no such codec, or one whose id is not `expected_id` (when given).
    """
    from cadenza.errors import InputError

    codec = Codec.from_pretrained(name)
    if expected_id and model_id(codec) != expected_id:
        raise InputError(name, f"is not the codec this model was trained on (its id is {model_id(codec)}, "
                               f"the model's {expected_id})")  # fmt: skip
    return codec


_ABSENT = object()
# config fields added after codecs had shipped: at these values they stay out of the id, so the ids (and the token
# models that record them) hold
_ID_SINCE: dict[str, Any] = {"encoder": "waveform", "mel_fft": 2048, "n_mels": 128, "note_codebook": False}


def model_id(codec: Codec) -> str:
    """A short hash of the config and of the weights that make the codes (PQMF, encoder, codebooks): codes files and
    token models record it, so codes meet only the encoder that made them. A decoder trained afterwards on the same
    codes (`cadenza codec train --decoder-only`) keeps the id: it decodes the same codes, better."""
    config = {k: v for k, v in asdict(codec.cfg).items() if _ID_SINCE.get(k, _ABSENT) != v}
    h = hashlib.sha1(json.dumps(config, sort_keys=True).encode())
    for name, t in sorted(codec.state_dict().items()):
        if name.startswith("decoder."):
            continue
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]
