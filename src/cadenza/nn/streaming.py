"""Causal layers that stream: fed block by block, they give what they give on the whole signal, sample for sample.

A causal convolution pads on the left only, so no output depends on a later input. In streaming mode each layer
keeps what it needs from one call to the next (the last inputs of a convolution, the overlapping tail of a
transposed convolution) instead of padding with zeros: a signal fed in blocks then decodes exactly as the whole
signal does, with no clicks at the block edges. RAVE's cached convolutions (Caillon & Esling 2021) and EnCodec's
streaming follow the same idea.

    with streaming(model):              # caches start empty (zeros) and follow the stream
        out = [model(block) for block in blocks]

- `CausalConv1d(c_in, c_out, kernel, stride, dilation)`: left context (kernel - 1) * dilation + 1 - stride; with a
  stride, a block's length must be a multiple of it.
- `CausalUpsample(c_in, c_out, factor)`: a transposed convolution of 2 x factor taps whose output n depends on
  input frames up to n // factor; in streaming mode the tail that overlaps the next block is carried over.
- `CausalISTFT(n_fft, hop)`: the inverse STFT by overlap-add, each frame's window starting at its own hop; the
  output lags by n_fft - hop samples and the overlap is carried over.
- `CausalPQMF(bands)`: the PQMF bank of `cadenza.audio.dsp` with its filters run causally: analysis + synthesis
  delay the signal by `delay` samples (the prototype's length) instead of looking ahead.
"""

# no `from __future__ import annotations`: TorchScript (`cadenza rave export`) reads these modules' annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn


class StreamCache(nn.Module):
    """The left context of a causal layer: zeros on a whole signal; in streaming mode, the end of the last block."""

    def __init__(self, context: int) -> None:
        super().__init__()
        self.context = context
        self.streaming = False
        self.cache = torch.zeros(0)  # empty: no stream yet (a tensor, not None, so that TorchScript can script it)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, T] -> [B, C, context + T]: x with its left context in front."""
        if not self.streaming:
            return F.pad(x, (self.context, 0))
        cache = self.cache
        if cache.dim() != 3 or cache.shape[0] != x.shape[0] or cache.shape[1] != x.shape[1]:
            cache = x.new_zeros(x.shape[0], x.shape[1], self.context)
        full = torch.cat([cache, x], dim=-1)
        self.cache = full[..., full.shape[-1] - self.context :].detach()
        return full


def _check_block(x: torch.Tensor, multiple: int, what: str) -> None:
    if x.shape[-1] % multiple:
        raise ValueError(f"a block of {x.shape[-1]} samples is not a multiple of the {what} {multiple}")


class CausalConv1d(nn.Module):
    """A 1-d convolution that looks only back; streams with a cache of its left context."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1,
                 bias: bool = True, groups: int = 1) -> None:  # fmt: skip
        super().__init__()
        if kernel < stride:
            raise ValueError("a causal strided convolution needs kernel >= stride")
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride, 0, dilation, groups=groups, bias=bias)
        self.left = StreamCache((kernel - 1) * dilation + 1 - stride)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, T] (T a multiple of the stride) -> [B, C_out, T / stride]."""
        _check_block(x, self.stride, "stride")
        return self.conv(self.left(x))


class CausalUpsample(nn.Module):
    """Up-sampling by `factor` with a transposed convolution of 2 x factor taps, cropped to be causal.

    The transposed convolution of T frames gives (T + 1) x factor samples: the first T x factor are kept, and the
    last `factor` (the half-finished overlap with the next frame) are added to the next block's start when
    streaming; on a whole signal they are dropped, as nothing follows.
    """

    def __init__(self, c_in: int, c_out: int, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.conv = nn.ConvTranspose1d(c_in, c_out, 2 * factor, factor, bias=False)
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.streaming = False
        self.tail = torch.zeros(0)  # the overlap carried to the next block (empty: none)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, T] -> [B, C_out, T * factor]."""
        y = self.conv(x)
        n = x.shape[-1] * self.factor
        out, tail = y[..., :n], y[..., n:]
        if self.streaming:
            if self.tail.shape == tail.shape:
                out = torch.cat([out[..., : self.factor] + self.tail, out[..., self.factor :]], dim=-1)
            self.tail = tail.detach()
        return out + self.bias[:, None]


class CausalISTFT(nn.Module):
    """The inverse STFT by windowed overlap-add (Hann window of `n_fft`, `hop` apart), causal: frame t's n_fft
    samples start at t x hop, so a sample is whole once the frames up to its own have arrived, and the output lags
    by `delay` = n_fft - hop samples. On a whole signal it returns the overlap's tail too ([B, T x hop + delay]); in
    streaming mode it returns T x hop samples per block and carries the tail to the next block. The sum of the
    squared windows is the steady state's constant (the first `delay` samples, which only the delay holds, fade in)."""

    window: torch.Tensor

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        if n_fft % hop:
            raise ValueError(f"the inverse STFT's window ({n_fft}) must be a whole number of hops ({hop})")
        self.n_fft, self.hop, self.delay = n_fft, hop, n_fft - hop
        window = torch.hann_window(n_fft, periodic=True)
        self.register_buffer("window", window, persistent=False)
        self.gain = float(window.square().sum()) / hop  # the summed squared windows at any sample (1.5 at 4 hops)
        self.streaming = False
        self.tail = torch.zeros(0)

    def reset_stream(self, on: bool) -> None:
        self.streaming, self.tail = on, torch.zeros(0)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex frames [B, T, n_fft / 2 + 1] -> audio [B, T x hop (+ delay on a whole signal)]."""
        b, t, _ = spec.shape
        n, hop = self.n_fft, self.hop
        frames = torch.fft.irfft(spec, n=n) * self.window / self.gain  # [B, T, n]
        y = F.fold(frames.transpose(1, 2), (1, (t - 1) * hop + n), (1, n), stride=(1, hop))[:, 0, 0]
        if not self.streaming:
            return y
        if self.tail.shape[0] == b and self.tail.shape[-1] == self.delay:
            y = torch.cat([y[:, : self.delay] + self.tail, y[:, self.delay :]], dim=-1)
        self.tail = y[:, t * hop :].detach()
        return y[:, : t * hop]


class CausalPQMF(nn.Module):
    """A PQMF bank (`cadenza.audio.dsp.PQMF`) run causally, so that it streams.

    The centred (zero-phase) bank needs taps / 2 samples of look-ahead at analysis and again at synthesis; run
    causally, each half delays by taps / 2 instead, and `synthesis(analysis(x))` is x delayed by `delay` = taps
    samples (4 ms with 4 bands at 16 kHz).
    """

    analysis_filters: torch.Tensor
    synthesis_filters: torch.Tensor

    def __init__(self, n_bands: int = 4) -> None:
        super().__init__()
        from cadenza.audio.dsp import PQMF

        bank = PQMF(n_bands)
        self.n_bands = m = n_bands
        taps = bank.analysis_filters.shape[-1] - 1
        if taps % m:
            raise ValueError(f"the PQMF's {taps} taps are not a multiple of its {m} bands")
        self.delay = taps
        # analysis: output j is the centred bank's output j - taps / (2 m): the filter spans x[jm - taps .. jm], so
        # m - 1 zero taps are appended to make the strided convolution's window end at jm + m - 1
        self.register_buffer("analysis_filters", F.pad(bank.analysis_filters, (0, m - 1)))
        self.register_buffer("synthesis_filters", bank.synthesis_filters.clone())
        self.analysis_left = StreamCache(taps)
        self.streaming = False
        self.tail = torch.zeros(0)  # the synthesis overlap carried to the next block (empty: none)

    def reset_stream(self, on: bool) -> None:
        self.streaming, self.tail = on, torch.zeros(0)

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """Audio [B, 1, T] (T a multiple of the bands) -> bands [B, M, T // M], delayed by taps / 2 samples."""
        _check_block(x, self.n_bands, "number of bands")
        return F.conv1d(self.analysis_left(x), self.analysis_filters, stride=self.n_bands)

    def synthesis(self, bands: torch.Tensor) -> torch.Tensor:
        """Bands [B, M, T'] -> audio [B, 1, T' * M], delayed by another taps / 2 samples."""
        # polyphase: a transposed convolution of stride M, the zero-stuffed convolution without its zeros (M times
        # fewer products); its last taps - M + 1 samples overlap the next block
        n = bands.shape[-1] * self.n_bands
        y = F.conv_transpose1d(bands, synthesis_kernel(self.synthesis_filters), stride=self.n_bands)
        if self.streaming:
            k = y.shape[-1] - n  # the overlap, shorter than y: the last block's tail lands on y's start
            if self.tail.shape[0] == y.shape[0] and self.tail.shape[-1] == k:
                y = torch.cat([y[..., :k] + self.tail, y[..., k:]], dim=-1)
            self.tail = y[..., n:].detach()
        return y[..., :n]


def synthesis_kernel(filters: torch.Tensor) -> torch.Tensor:
    """PQMF synthesis filters [1, M, K] as the weight [M, 1, K] of a stride-M transposed convolution (flipped, as a
    transposed convolution correlates where the zero-stuffed one convolves; x M for the up-sampling's gain)."""
    return filters[0].flip(-1)[:, None, :] * filters.shape[1]


def set_streaming(model: nn.Module, on: bool) -> None:
    """Switch every causal layer of `model` to streaming (caches emptied) or back to whole-signal mode."""
    for m in model.modules():
        if isinstance(m, StreamCache):
            m.streaming, m.cache = on, torch.zeros(0)
        elif isinstance(m, CausalUpsample):
            m.streaming, m.tail = on, torch.zeros(0)
        else:  # any other layer with a state (RAVE's noise position, the PQMF's synthesis tail)
            reset = getattr(m, "reset_stream", None)
            if callable(reset):
                reset(on)


@contextlib.contextmanager
def streaming(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, `model` processes a stream block by block (its caches start empty)."""
    set_streaming(model, True)
    try:
        yield model
    finally:
        set_streaming(model, False)
