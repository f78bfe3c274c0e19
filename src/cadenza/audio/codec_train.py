"""Training, saving and measuring the codec (`cadenza.audio.codec`), and its codes files.

Training follows DAC: the multi-scale mel distance (weight 15), the codebook (1) and commitment (0.25) losses
and, with `adversarial=True`, the least-squares GAN loss (1) and feature matching (2) against the
multi-period and multi-band STFT discriminators. The generator and the discriminators live in one module
(`CodecGAN`) so the shared training loop, its checkpoints and its resume serve both: in one step the
discriminators learn from the detached reconstruction while the generator's adversarial terms see frozen
discriminator weights, so each half only gets its own gradients.

Codes files (`.codes`) keep the bitrate's promise: a short header (the magic bytes, then a JSON line with the
`sample_rate`, `n_samples`, `hop`, `n_codebooks`, `frames`, `cardinality`, `bits` and `model_id` they need to be
decoded by the right model) and the codes packed at ceil(log2(cardinality)) bits each, frame after frame, so a
file's size per second is the nominal bitrate plus the header (a "3 kbps" file once held 4.8 kbps as int16).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.codec import N_NOTE_CODES, Codec, CodecConfig, VocosDecoder, model_id
from cadenza.audio.discriminators import Discriminator, adversarial_terms
from cadenza.audio.dsp import SALIENCE_NOTES, mel_distance, multiscale_spectral_distance, pitch_salience, si_sdr
from cadenza.core.audio import AudioClip
from cadenza.errors import InputError
from cadenza.nn.quantize import QuantizerOutput
from cadenza.pretrained import TRAINING_BLOCK
from cadenza.train.loop import TrainConfig

CODES_FORMAT = 2
CODES_MAGIC = b"CDZ\x02"


@dataclass(frozen=True)
class CodecLossConfig:
    segment_s: float = 0.64  # training excerpt (a whole number of frames at 50 Hz)
    batch_size: int = 8
    mel_weight: float = 15.0
    codebook_weight: float = 1.0
    commitment_weight: float = 0.25
    adversarial: bool = False
    adversarial_weight: float = 1.0
    feature_weight: float = 2.0
    disc_channels: int = 16
    spectral_weight: float = 0.0  # DDSP's multi-scale spectral loss (linear + log magnitudes), beside the mel one
    decoder_only: bool = False  # encoder and codebooks frozen: the codes stay those of the start model
    phase_weight: float = 0.0  # a Vocos decoder's phase against the input's (APNet's anti-wrapped losses)
    # a Vocos decoder's log magnitudes against the input's STFT, frame by frame, before the inverse STFT (APNet's
    # amplitude loss): a target for each bin that does not pass through the overlap-add and its phases
    magnitude_weight: float = 0.0
    # the first codebook's output alone predicts the input's pitch salience per frame (`pitch_salience`, softened
    # into a distribution over notes) through a 1x1 head that is not part of the codec: the first codes learn the
    # notes, as SpeechTokenizer distils HuBERT into its first level (the head is dropped when the codec is saved)
    note_weight: float = 0.0
    # a note codebook's share of items decoded from the note alone (None: quantizer_dropout / n_codebooks)
    note_alone: float | None = None
    # a note codebook's residual codes made to forget the note (FACodec's adversarial classifier): a small head
    # learns to name each frame's note code from the residual codes' sum, and its gradient reaches the encoder and
    # the note table reversed (times this weight), so that the pitch has to travel in the note's vector
    pitch_adversary: float = 0.0


class CodecGAN(nn.Module):
    """The codec and (for adversarial training) its discriminators, trained together by `codec_loss`."""

    def __init__(self, cfg: CodecConfig, loss: CodecLossConfig) -> None:
        super().__init__()
        self.codec = Codec(cfg)
        self.loss_cfg = loss
        self.disc = Discriminator(channels=loss.disc_channels) if loss.adversarial else None
        if loss.note_weight and loss.decoder_only:  # a frozen first codebook cannot learn the notes
            raise ValueError("note_weight teaches the encoder's first codebook, which decoder_only freezes")
        if loss.note_alone is not None and not (cfg.note_codebook and 0 <= loss.note_alone <= 1):
            raise ValueError("note_alone is a share in [0, 1] of the items a note codebook decodes from the note alone")
        if loss.note_weight and cfg.note_codebook:
            raise ValueError("note_weight teaches the first codebook the notes, which a note codebook already is")
        if loss.pitch_adversary and not (cfg.note_codebook and not loss.decoder_only and loss.pitch_adversary > 0):
            raise ValueError("pitch_adversary is a weight > 0 on a note codebook's residual codes (not decoder_only)")
        self.pitch_head = (
            nn.Sequential(nn.Conv1d(cfg.latent_dim, 256, 3, padding=1), nn.GELU(), nn.Conv1d(256, N_NOTE_CODES, 1))
            if loss.pitch_adversary
            else None
        )
        self.note_head = (
            nn.Conv1d(cfg.latent_dim, SALIENCE_NOTES[1] - SALIENCE_NOTES[0] + 1, 1) if loss.note_weight else None
        )
        if loss.decoder_only:
            for part in self.frozen():
                part.requires_grad_(False)

    def frozen(self) -> list[nn.Module]:
        """The parts that a decoder-only run keeps as they are (in eval mode: no moving averages, no revival)."""
        parts = (self.codec.pqmf, self.codec.encoder, self.codec.quantizer, self.codec.notes)
        return [m for m in parts if m is not None]

    def train(self, mode: bool = True) -> CodecGAN:
        super().train(mode)
        if self.loss_cfg.decoder_only:
            for part in self.frozen():
                part.eval()
        return self

    @torch.no_grad()
    def frozen_latent(self, audio: torch.Tensor) -> QuantizerOutput:
        """The start model's quantized latent, with quantizer dropout: a random share of the items decode from
        their first 1..K codebooks only, so that the decoder keeps serving every bitrate."""
        codes = self.codec.quantize(audio).codes  # [B, K, T]
        b, k = codes.shape[:2]
        active = torch.full((b,), k, device=codes.device)
        drop = torch.rand(b, device=codes.device) < self.codec.cfg.quantizer_dropout
        active = torch.where(drop, torch.randint(1, k + 1, (b,), device=codes.device), active)
        z_q = self.codec.dequantize(codes, active)  # every item keeps its first codebook
        zero = audio.new_zeros(())
        return QuantizerOutput(z_q, codes, zero, zero)

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.loss_cfg
        spec = None
        q = self.frozen_latent(audio) if cfg.decoder_only else self.codec.quantize(audio, note_alone=cfg.note_alone)
        if (cfg.phase_weight or cfg.magnitude_weight) and isinstance(self.codec.decoder, VocosDecoder):
            spec = self.codec.decoder.spectrum(q.z_q)
            recon = self.codec.decoder.istft(spec)[:, None]
        else:
            recon = self.codec.synthesis(q.z_q)
        if self.codec.delay:  # a causal codec's last `delay` samples would need input past the excerpt
            n = audio.shape[-1] - self.codec.delay
            recon, audio = recon[..., :n], audio[..., :n]
        sr = self.codec.sample_rate
        terms = {"mel": mel_distance(recon, audio, sr), "codebook": q.codebook_loss, "commitment": q.commitment_loss}
        total = cfg.mel_weight * terms["mel"] + cfg.codebook_weight * q.codebook_loss
        total = total + cfg.commitment_weight * q.commitment_loss
        if spec is not None:
            target = self.codec.decoder.stft(audio[:, 0])  # type: ignore[operator]
            if cfg.phase_weight:
                terms["phase"] = phase_loss(spec, target)
                total = total + cfg.phase_weight * terms["phase"]
            if cfg.magnitude_weight:
                terms["magnitude"] = magnitude_loss(spec, target)
                total = total + cfg.magnitude_weight * terms["magnitude"]
        if cfg.spectral_weight:
            terms["spectral"] = multiscale_spectral_distance(recon, audio)
            total = total + cfg.spectral_weight * terms["spectral"]
        if self.note_head is not None and q.first is not None:
            terms["note"] = note_loss(self.note_head(q.first), audio[:, 0], sr, self.codec.cfg.hop)
            total = total + cfg.note_weight * terms["note"]
        if self.pitch_head is not None and q.first is not None:
            rest = reverse_gradient(q.z_q - q.first, cfg.pitch_adversary)
            notes = q.codes[:, 0]
            ce = nn.functional.cross_entropy(self.pitch_head(rest), notes, reduction="none")
            coded = rest.detach().abs().amax((1, 2)) > 0  # not the items decoded from the note alone
            voiced = ((notes > 0) & coded[:, None]).to(ce)
            terms["pitch_adversary"] = (ce * voiced).sum() / voiced.sum().clamp(min=1)
            total = total + terms["pitch_adversary"]  # the head descends it; the codec, reversed, ascends it
        if self.disc is not None:
            terms.update(adversarial_terms(self.disc, audio, recon))
            total = total + terms["disc"] + cfg.adversarial_weight * terms["adversarial"]
            total = total + cfg.feature_weight * terms["feature"]
        terms["loss"] = total
        return terms


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.weight * grad, None


def reverse_gradient(x: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """x unchanged forwards; its gradient times -`weight` backwards (Ganin & Lempitsky's gradient reversal)."""
    return _ReverseGradient.apply(x, weight)  # type: ignore[no-any-return]


def note_loss(logits: torch.Tensor, audio: torch.Tensor, sample_rate: int, hop: int, sharpness: float = 4.0,
              floor_db: float = -60.0) -> torch.Tensor:  # fmt: skip
    """Cross-entropy of logits [B, n_notes, T] against the input's pitch salience made a distribution over notes
    (softmax of `sharpness` x log salience), over the frames louder than `floor_db` (silence has no note)."""
    with torch.no_grad():
        target = torch.softmax(sharpness * pitch_salience(audio, sample_rate, hop), 1)
        n = min(target.shape[-1], logits.shape[-1])
        frames = audio[:, : n * hop].reshape(audio.shape[0], n, hop)
        loud = (frames.pow(2).mean(-1) > 10 ** (floor_db / 10)).to(logits)  # [B, T]
    ce = -(target[..., :n] * torch.log_softmax(logits[..., :n], 1)).sum(1)
    return (ce * loud).sum() / loud.sum().clamp(min=1)


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """|x| folded onto [0, pi]: the distance of two phases whose difference is x."""
    return (x - 2 * math.pi * torch.round(x / (2 * math.pi))).abs()


def phase_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """APNet's three phase losses (Ai & Ling 2023, https://arxiv.org/abs/2305.07952), anti-wrapped: the phase itself,
    its difference across frequency (group delay) and across time (instantaneous frequency: what holds a tone
    steady from frame to frame), each weighted by the target's magnitude, so that silent bins teach nothing.

    Args:
        pred, target: complex STFT frames [B, T, F] of the same framing.
    """
    p, t = pred.angle(), target.angle()
    w = target.abs().detach()
    w = w / w.mean(dim=(1, 2), keepdim=True).clamp_min(1e-8)

    def mean(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return (x * weight).sum() / weight.sum().clamp_min(1e-8)

    wt, wf = torch.minimum(w[:, 1:], w[:, :-1]), torch.minimum(w[..., 1:], w[..., :-1])
    return (mean(anti_wrap(p - t), w) + mean(anti_wrap(p.diff(dim=-1) - t.diff(dim=-1)), wf)
            + mean(anti_wrap(p.diff(dim=1) - t.diff(dim=1)), wt))  # fmt: skip


def magnitude_loss(pred: torch.Tensor, target: torch.Tensor, floor: float = 1e-2) -> torch.Tensor:
    """Mean |log magnitude difference| of two framings of the same audio (APNet's amplitude loss, as L1), each
    magnitude floored at `floor` (the default is 90 dB below a full-scale sine's peak bin, n_fft / 4, at a 1,280-point
    Hann framing), so that the depth of near-silent bins does not outweigh the sounding ones.

    Args:
        pred, target: complex STFT frames [B, T, F] of the same framing.
    """
    return (torch.log(pred.abs().clamp_min(floor)) - torch.log(target.abs().clamp_min(floor))).abs().mean()


def start_from(codec: Codec, start: Codec) -> None:
    """Load `start`'s weights into `codec`, which has its architecture, or that architecture with a note codebook
    added (`note_codebook`): then the residual quantizers are the start's first K - 1 and the note table starts at
    zeros, so that the codec first codes as the start did with its last codebook dropped."""
    if asdict(replace(start.cfg, note_codebook=codec.cfg.note_codebook)) != asdict(codec.cfg):
        raise ValueError("the start codec's architecture differs from this one's")
    state = start.state_dict()
    if codec.cfg.note_codebook and not start.cfg.note_codebook:
        last = f"quantizer.quantizers.{start.cfg.n_codebooks - 1}."
        state = {k: v for k, v in state.items() if not k.startswith(last)}
        state["notes.weight"] = torch.zeros_like(codec.state_dict()["notes.weight"])
    codec.load_state_dict(state)


def codec_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(batch["audio"])["loss"]


# ------------------------------------------------------------------------------------------------ data


def load_dataset_audio(folder: str | Path | list[str | Path], split: str, sample_rate: int,
                       progress: bool = True) -> list[np.ndarray]:  # fmt: skip
    """Every clip of one split of a dataset folder (or of several, pooled), mono at `sample_rate`."""
    from cadenza.audio.datasets import read_manifest
    from cadenza.io.audio import read_audio

    folders = folder if isinstance(folder, list) else [folder]
    entries = [(f, e) for f in folders for e in read_manifest(f, split)]
    if not entries:
        raise InputError(", ".join(map(str, folders)), f"the dataset has no {split} clips")
    return [read_audio(Path(f) / e["file"], sample_rate=sample_rate, mono=True).samples[0]
            for f, e in tqdm(entries, desc=f"audio {split}", unit="clip", disable=not progress)]  # fmt: skip


class WaveBatches:
    """Random excerpts with a random gain of -12..0 dB; the batch of a step depends only on (seed, step, rank)."""

    def __init__(self, clips: list[np.ndarray], n_samples: int, batch_size: int, seed: int = 0,
                 source: str = "dataset") -> None:  # fmt: skip
        self.clips = [c for c in clips if len(c) > n_samples]
        if not self.clips:
            raise InputError(source, f"every clip is shorter than the {n_samples}-sample training excerpt")
        lengths = np.array([len(c) - n_samples for c in self.clips], float)
        self.weights = lengths / lengths.sum()
        self.n_samples, self.batch_size, self.seed = n_samples, batch_size, seed

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, rank])
        out = []
        for i in rng.choice(len(self.clips), self.batch_size, p=self.weights):
            s = int(rng.integers(0, len(self.clips[i]) - self.n_samples))
            gain = 10 ** (rng.uniform(-12, 0) / 20)
            x = self.clips[i][s : s + self.n_samples]
            peak = float(np.abs(x).max()) or 1.0
            out.append(x * min(gain, 0.99 / peak))
        return {"audio": torch.tensor(np.stack(out), dtype=torch.float32)[:, None]}


# ------------------------------------------------------------------------------------------------ measure


@torch.no_grad()
def evaluate_codec(codec: Codec, clips: list[np.ndarray], n_codebooks: int | None = None) -> dict[str, float]:
    """Mel distance (DAC's), multi-scale STFT distance and SI-SDR of decode(encode(x)) over clips, averaged."""
    codec.eval()
    device = next(codec.parameters()).device
    mel, stft, sdr = [], [], []
    for x in clips:
        audio = torch.tensor(x, dtype=torch.float32, device=device)[None, None]
        y = codec.decode_chunked(codec.encode_chunked(audio, n_codebooks))[..., : audio.shape[-1]]
        mel.append(float(mel_distance(y, audio, codec.sample_rate)))
        stft.append(float(multiscale_spectral_distance(y[0, 0], audio[0, 0])))
        sdr.append(float(si_sdr(y[0, 0], audio[0, 0])))
    return {
        "mel_distance": float(np.mean(mel)),
        "stft_distance": float(np.mean(stft)),
        "si_sdr_db": float(np.mean(sdr)),
    }


@torch.no_grad()
def codebook_usage(codec: Codec, clips: list[np.ndarray]) -> list[float]:
    """Entropy of each codebook's code histogram over the clips, as a share of log2(cardinality) (1 = uniform)."""
    counts = np.zeros((codec.n_codebooks, codec.cardinality))
    for x in clips:
        audio = torch.tensor(x, dtype=torch.float32, device=next(codec.parameters()).device)[None, None]
        codes = codec.encode_chunked(audio)[0].cpu().numpy()
        for k in range(codec.n_codebooks):
            counts[k] += np.bincount(codes[k], minlength=codec.cardinality)
    p = counts / counts.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
    return [round(float(v / np.log2(codec.cardinality)), 4) for v in h]


# ------------------------------------------------------------------------------------------------ train, save


def train_codec(
    data_dir: str | Path | list[str | Path],
    out_dir: str | Path,
    cfg: CodecConfig,
    loss: CodecLossConfig,
    tc: TrainConfig,
    *,
    init_from: str | Path | None = None,
    progress: bool = True,
    new_segment: bool = False,
) -> tuple[Codec, dict[str, Any]]:
    """Train on the train split of one or more dataset folders (their clips pooled, e.g. corpora rendered through
    several SoundFonts and the procedural textures); resumes from `out_dir`. `init_from`: a saved codec whose
    weights start this run (e.g. the mel-only phase before the adversarial one)."""
    from cadenza.train.loop import train

    folders = data_dir if isinstance(data_dir, list) else [data_dir]
    train_clips = load_dataset_audio(folders, "train", cfg.sample_rate, progress)
    valid_clips = [c[: 5 * cfg.sample_rate] for c in load_dataset_audio(folders, "valid", cfg.sample_rate, progress)]
    torch.manual_seed(tc.seed)  # the initial weights: a run is repeatable from its seed
    model = CodecGAN(cfg, loss)
    if init_from is not None:
        start_from(model.codec, Codec.from_pretrained(init_from))
    n = round(loss.segment_s * cfg.sample_rate / cfg.hop) * cfg.hop
    batches = WaveBatches(train_clips, n, loss.batch_size, tc.seed, ", ".join(map(str, folders)))

    def eval_fn(m: nn.Module) -> dict[str, float]:
        r = evaluate_codec(m.codec, valid_clips[:: max(1, len(valid_clips) // 6)][:6])  # type: ignore[arg-type]
        return {"valid/mel": r["mel_distance"], "valid/si_sdr": r["si_sdr_db"]}

    config = {"codec": asdict(cfg), "loss": asdict(loss)}
    result = train(model, batches, codec_loss, tc, out_dir=out_dir, eval_fn=eval_fn, model_config=config,
                   progress=progress, new_segment=new_segment)  # fmt: skip
    codec = model.codec.eval()
    codec.extra = {"loss": asdict(loss), "segments": result.segments}
    figures: dict[str, Any] = {"train_seconds": round(result.seconds, 1), "steps": result.step}
    for kbps in (1.5, 3.0, 6.0):
        k = cfg.codebooks_for(kbps)
        r = evaluate_codec(codec, valid_clips, k)
        figures[f"valid_mel_{kbps:g}kbps"] = round(r["mel_distance"], 4)
        figures[f"valid_si_sdr_{kbps:g}kbps"] = round(r["si_sdr_db"], 2)
    figures["codebook_usage"] = codebook_usage(codec, valid_clips)
    return codec, figures


CARD = (
    """# Neural audio codec `{name}` (cadenza)

{what} at {sample_rate} Hz, {frame_rate:g} frames/s: {encoder}, {decoder}, {n_codebooks} codebooks of {cardinality}
codes ({lookup}), quantizer dropout {dropout}: one model for
{kbps_low:g} to {kbps_high:g} kbps ({kbps_step:g} kbps per codebook). Trained on the train split of `{data}`.

- Config: `{config}`
- Losses: `{loss}`
"""
    + TRAINING_BLOCK
    + """
`mel` is DAC's multi-scale mel distance (lower is better), `si_sdr` the scale-invariant SDR in dB;
`codebook_usage` is each codebook's code entropy as a share of log2({cardinality}) (1 = every code equally used).

    cadenza codec encode in.wav --kbps 3 -o in.codes && cadenza codec decode in.codes -o out.wav
"""
)


def encoder_text(cfg: CodecConfig) -> str:
    if cfg.encoder == "mel":
        return (
            f"a {cfg.n_mels}-band log-mel spectrogram of a fixed {cfg.mel_fft}-point STFT, one frame per hop, into "
            f"convolutions over its frames (Snake activations, dilated residual units, width {8 * cfg.channels})"
        )
    return (f"{cfg.n_bands} PQMF bands into a convolutional encoder with Snake activations and dilated residual units "
            f"(strides {cfg.strides})")  # fmt: skip


def decoder_text(cfg: CodecConfig) -> str:
    causal = "; causal: streams with no look-ahead" if cfg.causal else ""
    if cfg.decoder == "vocos":
        return (f"a Vocos decoder ({cfg.decoder_layers} ConvNeXt blocks of width {cfg.decoder_channels} predicting "
                f"each frame's STFT magnitude and phase, then the inverse STFT)")  # fmt: skip
    return f"a mirrored decoder of transposed convolutions to the PQMF bands{causal}"


def lookup_text(cfg: CodecConfig) -> str:
    if cfg.factorized:
        return f"{cfg.codebook_dim}-d factorized L2-normalized lookups, as DAC"
    learned = "moving-average (k-means) codebooks, as EnCodec" if cfg.ema else "codebook loss"
    text = f"Euclidean lookups in the {cfg.latent_dim}-d latent, {learned}"
    if cfg.note_codebook:
        text = (f"the first codebook is each frame's dominant note (harmonic-sum pitch salience; code 0: none) and a "
                f"learned vector per note; the others: {text}, coding what the note leaves")  # fmt: skip
    return text


# ------------------------------------------------------------------------------------------------ codes files


def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Non-negative integers below 2**bits, each written in `bits` bits (least significant first), packed."""
    v = np.asarray(values, dtype=np.int64).ravel()
    planes = ((v[:, None] >> np.arange(bits)) & 1).astype(np.uint8)  # [N, bits]
    return np.packbits(planes.ravel(), bitorder="little").tobytes()


def unpack_bits(data: bytes, bits: int, count: int) -> np.ndarray:
    """The inverse of `pack_bits`: `count` integers of `bits` bits."""
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    if len(flat) < count * bits:
        raise ValueError(f"{len(flat)} bits hold fewer than {count} codes of {bits} bits")
    planes = flat[: count * bits].reshape(count, bits).astype(np.int64)
    return (planes << np.arange(bits)).sum(1)


def code_bits(cardinality: int) -> int:
    return max(1, int(np.ceil(np.log2(cardinality))))


def write_codes(path: str | Path, codes: torch.Tensor, codec: Codec, n_samples: int) -> Path:
    """Codes [1, K, T] of one mono clip -> a `.codes` file (header + bit-packed codes), atomically."""
    from cadenza.io.files import atomic_path

    cfg = codec.cfg
    k, t = int(codes.shape[1]), int(codes.shape[2])
    bits = code_bits(cfg.cardinality)
    header = {"format_version": CODES_FORMAT, "sample_rate": cfg.sample_rate, "n_samples": n_samples, "hop": cfg.hop,
              "n_codebooks": k, "frames": t, "cardinality": cfg.cardinality, "bits": bits,
              "model_id": model_id(codec), "kbps": cfg.kbps(k)}  # fmt: skip
    line = (json.dumps(header, separators=(",", ":")) + "\n").encode()
    payload = pack_bits(codes[0].T.cpu().numpy(), bits)  # frame after frame: [T, K]
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(CODES_MAGIC + line + payload)
    return Path(path)


def read_codes(path: str | Path, codec: Codec) -> tuple[torch.Tensor, int]:
    """A `.codes` file -> (codes [1, K, T], n_samples), checked against `codec`.

    Raises:
        InputError: not a codes file, corrupt or truncated, or made by another model (other codebooks, cardinality
            or weights).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    data = p.read_bytes()
    if not data.startswith(CODES_MAGIC):
        raise InputError(p, "not a codes file (written by `cadenza codec encode`)")
    end = data.find(b"\n", len(CODES_MAGIC))
    try:
        header = json.loads(data[len(CODES_MAGIC) : end])
        k, t, bits, cardinality = (int(header[f]) for f in ("n_codebooks", "frames", "bits", "cardinality"))
        n_samples = int(header["n_samples"])
    except (ValueError, KeyError, TypeError):
        raise InputError(p, "not a codes file (its header is unreadable)") from None
    cfg = codec.cfg
    if cardinality != cfg.cardinality or k > cfg.n_codebooks:
        raise InputError(p, f"codes from another model ({k} codebooks of {cardinality}; "
                            f"this one has {cfg.n_codebooks} of {cfg.cardinality})")  # fmt: skip
    if str(header.get("model_id")) != model_id(codec):
        raise InputError(p, f"codes from another model (id {header.get('model_id')}, this model is {model_id(codec)})")
    try:
        codes = unpack_bits(data[end + 1 :], bits, k * t).reshape(t, k).T
    except ValueError as e:
        raise InputError(p, f"corrupt codes ({e}): the file is truncated") from None
    if codes.max(initial=0) >= cfg.cardinality:
        raise InputError(p, "corrupt codes: values outside the codebook")
    return torch.tensor(codes)[None], n_samples


def codec_round_trip(codec: Codec, clip: AudioClip, kbps: float | None = None) -> AudioClip:
    """encode + decode a mono clip at `kbps` (all codebooks by default), chunked."""
    k = codec.cfg.codebooks_for(kbps) if kbps else None
    audio = torch.tensor(clip.mono().samples)[None]
    y = codec.decode_chunked(codec.encode_chunked(audio, k))[0, :, : clip.n_samples]
    return AudioClip(y.numpy(), codec.sample_rate)


@torch.no_grad()
def morph(codec: Codec, a: AudioClip, b: AudioClip, steps: int, space: str = "latent") -> list[AudioClip]:
    """`steps` clips going from a to b (cropped to the shorter), as in the course's DAC morphing notebooks.

    Args:
        space: "latent" interpolates the encoder's continuous latents and quantizes each mix with every
            codebook; "codes" interpolates the quantized latents (the sums of the chosen code vectors) and
            decodes them without quantizing again.
    """
    if codec.cfg.note_codebook:
        raise ValueError("a codec whose first codebook is the note finds it in the audio: its latents do not morph")
    if steps < 2:
        raise ValueError("a morph needs at least 2 steps")
    hop = codec.cfg.hop
    n = min(a.n_samples, b.n_samples) // hop * hop
    if n == 0:
        raise ValueError("clips shorter than one codec frame")
    xa = torch.tensor(a.mono().samples[:, :n])[None]
    xb = torch.tensor(b.mono().samples[:, :n])[None]
    za, zb = codec.analysis(xa), codec.analysis(xb)
    if space == "codes":
        za, zb = codec.quantizer(za).z_q, codec.quantizer(zb).z_q
    elif space != "latent":
        raise ValueError(f"unknown morph space {space!r} (latent or codes)")
    out = []
    for alpha in np.linspace(0, 1, steps):
        z = (1 - alpha) * za + alpha * zb
        if space == "latent":
            z = codec.quantizer(z).z_q
        out.append(AudioClip(codec.synthesis(z)[0].numpy(), codec.sample_rate))
    return out
