"""A causal RAVE as one TorchScript file that a live patch loads without cadenza or Python: nn~ (acids-ircam/
nn_tilde) and other TorchScript hosts call its methods on consecutive audio blocks.

The exported module is always streaming: every causal convolution keeps its cache from one call to the next, so
blocks of any whole number of frames give exactly what the whole signal gives, with no clicks at block edges,
lagging by `latency` samples. It carries the attributes nn~ reads: `sampling_rate`, and for each method a
`<method>_params` buffer [input channels, input ratio, output channels, output ratio] (a ratio is the number of
audio samples per value), with `get_methods()` listing them:

    encode: audio [B, 1, N] -> latents [B, dims, N / hop]   (PCA basis, the first `dims` dimensions)
    decode: latents [B, dims, T] -> audio [B, 1, T x hop]
    forward: audio -> audio (encode, z * scale + bias, decode: timbre transfer with live control;
             `set_bias(tensor)` / `set_scale(tensor)` change the latent_size values between blocks)

    >>> m = torch.jit.load("rave-violin.ts")
    >>> out = [m.forward(block) for block in blocks]   # blocks of 512 x n samples, one after another
"""

# no `from __future__ import annotations`: TorchScript reads the annotations of the scripted module as objects
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cadenza.audio.rave import RAVE, remove_weight_norm
from cadenza.nn.streaming import set_streaming


class StreamingRAVE(nn.Module):
    """What `export_torchscript` scripts: a causal RAVE in streaming mode, its latent in the PCA basis."""

    latent_mean: torch.Tensor
    latent_components: torch.Tensor
    latent_bias: torch.Tensor
    latent_scale: torch.Tensor

    def __init__(self, model: RAVE, dims: int) -> None:
        super().__init__()
        if not model.cfg.causal:
            raise ValueError("only a causal RAVE streams; this one looks ahead")
        m = RAVE(model.cfg)  # a fresh copy (deepcopy of weight-normed layers shares their parametrizations)
        m.load_state_dict(model.state_dict())
        remove_weight_norm(m).eval()
        self.pqmf, self.encoder, self.decoder = m.pqmf, m.encoder, m.decoder
        set_streaming(self, True)
        self.register_buffer("latent_mean", m.latent_mean.clone())
        self.register_buffer("latent_components", m.latent_components.clone())
        self.sampling_rate = int(m.cfg.sample_rate)
        self.ratio = int(m.cfg.hop)
        self.latent_size = int(dims)
        self.full_latent = int(m.cfg.latent_dim)
        self.mel_input = m.cfg.encoder == "mel"  # the encoder reads the audio itself, not the PQMF bands
        self.spectral_output = m.cfg.decoder == "spectral"  # the decoder gives the audio itself, not bands
        self.delay = int(m.delay)
        self.register_buffer("encode_params", torch.tensor([1, 1, dims, self.ratio]))
        self.register_buffer("decode_params", torch.tensor([dims, self.ratio, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        # live control of `forward` (timbre transfer): each latent dimension becomes z * scale + bias
        self.register_buffer("latent_bias", torch.zeros(dims))
        self.register_buffer("latent_scale", torch.ones(dims))

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Audio [B, 1, N] (N a multiple of `ratio`) -> latents [B, latent_size, N / ratio]."""
        inputs = x if self.mel_input else self.pqmf.analysis(x)
        mean = self.encoder(inputs)[:, : self.full_latent]
        z = torch.einsum("kd,bdt->bkt", self.latent_components, mean - self.latent_mean[:, None])
        return z[:, : self.latent_size]

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [B, <= latent_size, T] -> audio [B, 1, T x ratio] (missing dimensions are zero)."""
        z = F.pad(z, [0, 0, 0, self.full_latent - z.shape[1]])
        w = torch.einsum("kd,bkt->bdt", self.latent_components, z) + self.latent_mean[:, None]
        y = self.decoder(w)
        return y if self.spectral_output else self.pqmf.synthesis(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encode(x)
        return self.decode(z * self.latent_scale[:, None] + self.latent_bias[:, None])

    @torch.jit.export
    def set_bias(self, bias: torch.Tensor) -> int:
        """Set the bias added to each latent dimension in `forward` ([latent_size]); returns 0."""
        self.latent_bias.copy_(bias.reshape(-1)[: self.latent_size])
        return 0

    @torch.jit.export
    def set_scale(self, scale: torch.Tensor) -> int:
        """Set the factor of each latent dimension in `forward` ([latent_size]); returns 0."""
        self.latent_scale.copy_(scale.reshape(-1)[: self.latent_size])
        return 0

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return ["encode", "decode", "forward"]


def export_torchscript(model: RAVE, path: str | Path, dims: int | None = None) -> dict[str, Any]:
    """Script a causal RAVE in streaming mode and save it (atomically) to `path`.

    Returns:
        {"sampling_rate", "ratio", "latent_size", "latency_samples", "latency_ms"}.
    """
    module = StreamingRAVE(model, dims or model.cfg.latent_dim)
    with warnings.catch_warnings():  # TorchScript is deprecated, but nn~ and other live hosts load nothing else
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    scripted.save(str(tmp))
    tmp.replace(out)
    latency = module.ratio + module.delay
    return {"sampling_rate": module.sampling_rate, "ratio": module.ratio, "latent_size": module.latent_size,
            "latency_samples": latency, "latency_ms": 1000 * latency / module.sampling_rate}  # fmt: skip
