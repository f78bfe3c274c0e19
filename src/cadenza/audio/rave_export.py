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

`export_onnx` writes the same model as one ONNX graph for hosts without TorchScript (ONNX Runtime in C++, C#,
JavaScript): timbre transfer of a whole buffer, `out = model(audio, bias, scale)`, aligned with its input. Its
graph holds no state between calls (ONNX has none), so it is offline: a live host streams the TorchScript file.

    >>> import onnxruntime
    >>> s = onnxruntime.InferenceSession("rave-violin.onnx")
    >>> out = s.run(None, {"audio": x, "bias": np.zeros(dims, np.float32), "scale": np.ones(dims, np.float32)})[0]
"""

# no `from __future__ import annotations`: TorchScript reads the annotations of the scripted module as objects
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cadenza.audio.rave import RAVE, remove_weight_norm
from cadenza.io.files import atomic_path
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
    with atomic_path(path) as tmp:
        scripted.save(str(tmp))
    latency = module.ratio + module.delay
    return {"sampling_rate": module.sampling_rate, "ratio": module.ratio, "latent_size": module.latent_size,
            "latency_samples": latency, "latency_ms": 1000 * latency / module.sampling_rate}  # fmt: skip


class OfflineRAVE(nn.Module):
    """What `export_onnx` exports: `StreamingRAVE`'s encode and decode over a whole buffer (no caches), the input
    padded with zeros past the causal delay and the output cut back to the input's span (as `RAVE.resynthesize`)."""

    def __init__(self, model: RAVE, dims: int) -> None:
        super().__init__()
        self.core = StreamingRAVE(model, dims)
        set_streaming(self.core, False)
        self.delay = self.core.delay
        self.pad = -(-self.delay // self.core.ratio) * self.core.ratio  # the delay in whole frames

    def forward(self, audio: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Audio [B, 1, N] (N a whole number of frames), bias and scale [latent_size] -> audio [B, 1, N]."""
        z = self.core.encode(F.pad(audio, [0, self.pad]))
        y = self.core.decode(z * scale[:, None] + bias[:, None])
        return y[..., self.delay : self.delay + audio.shape[-1]]


def export_onnx(model: RAVE, path: str | Path, dims: int | None = None) -> dict[str, Any]:
    """Export a causal RAVE's timbre transfer as one ONNX file (atomically): inputs `audio` [B, 1, N] (N any whole
    number of `ratio`-sample frames), `bias` and `scale` [latent_size]; output `out` [B, 1, N]. The file's metadata
    carries sampling_rate, ratio and latent_size.

    Returns:
        {"sampling_rate", "ratio", "latent_size"}.
    """
    import logging

    import onnx

    # torch's exporter logs a warning for each torchvision operator it cannot register (cadenza has none)
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    module = OfflineRAVE(model, dims or model.cfg.latent_dim).eval()
    core = module.core
    d, hop = core.latent_size, core.ratio
    example = (torch.zeros(2, 1, 4 * hop), torch.zeros(d), torch.ones(d))  # batch 2: export keeps a size-1 axis fixed
    frames = torch.export.Dim("frames", min=1, max=2**20)
    info = {"sampling_rate": core.sampling_rate, "ratio": hop, "latent_size": d}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, str(tmp), dynamo=True, external_data=False, verbose=False,
                          input_names=["audio", "bias", "scale"], output_names=["out"],
                          dynamic_shapes={"audio": {0: torch.export.Dim("batch", max=1024), 2: hop * frames},
                                          "bias": None, "scale": None})  # fmt: skip
        graph = onnx.load(str(tmp))
        onnx.helper.set_model_props(graph, {k: str(v) for k, v in info.items()})
        onnx.save(graph, str(tmp))
    return info
