"""The neural codec against Opus and the VQ-VAE baseline, on held-out renders, side by side in one run.

usage: python benchmarks/codec.py [--model models/codec] [--vqvae models/codec-vqvae] [--threads 1]

Held-out audio: the valid and test splits of the codec's training data (rebuilt here with the same command
and seed when missing: `cadenza data render --corpus essen bach --program violin cello flute clarinet trumpet
piano guitar oboe "french horn" organ --minutes 40`), pieces the codec never saw.

For each bitrate (1.5, 3, 6 kbps; Opus also at 12 and 24 for the shape of its curve): DAC's multi-scale mel
distance, the multi-scale STFT distance (FFT 2048..64) and SI-SDR, averaged over the clips; for Opus also the
bitrate it actually spent (libopus cannot go below about 5 kbps at 16 kHz). Codebook usage is the entropy of
each codebook's codes as a share of its maximum; the real-time factor is encode + decode on one core.

Does the melody survive? f0 error: the median |cents| between CREPE-tiny on the input and on the output, over
frames where both are confident (> 0.5), averaged over the clips that have such frames.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from cadenza.audio.codec import Codec
from cadenza.audio.codec_train import codebook_usage, codec_round_trip, evaluate_codec, load_dataset_audio
from cadenza.audio.datasets import render_dataset
from cadenza.audio.dsp import cents_error, f0_track, mel_distance, multiscale_spectral_distance, si_sdr
from cadenza.audio.opus import opus_round_trip
from cadenza.core.audio import AudioClip

from common import write_result

CACHE = Path.home() / ".cache" / "cadenza" / "bench"
PROGRAMS = ["violin", "cello", "flute", "clarinet", "trumpet", "piano", "guitar", "oboe", "french horn", "organ"]


def dataset() -> Path:
    out = CACHE / "multi-40min-seed0"
    if not (out / "manifest.jsonl").exists():
        render_dataset(["essen", "bach"], list(PROGRAMS), out, minutes=40, seed=0, progress=False)
    return out


def opus_figures(clips: list[np.ndarray], kbps: float) -> dict[str, float]:
    mel, stft, sdr, spent = [], [], [], []
    for x in clips:
        r = opus_round_trip(AudioClip(x, 16000), kbps)
        y, ref = torch.tensor(r.audio.samples[0]), torch.tensor(x)
        mel.append(float(mel_distance(y[None, None], ref[None, None], 16000)))
        stft.append(float(multiscale_spectral_distance(y, ref)))
        sdr.append(float(si_sdr(y, ref)))
        spent.append(r.kbps)
    return {"mel_distance": round(float(np.mean(mel)), 4), "stft_distance": round(float(np.mean(stft)), 4),
            "si_sdr_db": round(float(np.mean(sdr)), 2), "kbps_spent": round(float(np.mean(spent)), 2)}  # fmt: skip


def f0_error_cents(clips: list[np.ndarray], round_trip: Callable[[AudioClip], AudioClip]) -> float:
    errors = []
    for x in clips:
        clip = AudioClip(x[None], 16000)
        f_in, c_in = f0_track(clip)
        f_out, c_out = f0_track(round_trip(clip))
        n = min(len(f_in), len(f_out))
        both = (c_in[:n] > 0.5) & (c_out[:n] > 0.5)
        if both.sum() >= 10:
            errors.append(float(np.median(cents_error(f_in[:n][both], f_out[:n][both]))))
    return round(float(np.mean(errors)), 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="codec")
    ap.add_argument("--vqvae", default="codec-vqvae")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds of each held-out clip (from its start)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = dataset()
    clips = [c[: int(args.seconds * 16000)] for split in ("valid", "test")
             for c in load_dataset_audio(data, split, 16000, progress=False)]  # fmt: skip
    codec = Codec.from_pretrained(args.model)
    rows: dict[str, dict[str, float]] = {}
    for kbps in (1.5, 3.0, 6.0):
        k = codec.cfg.codebooks_for(kbps)
        r = evaluate_codec(codec, clips, k)
        rows[f"codec {codec.cfg.kbps(k):g} kbps ({k} codebooks)"] = {key: round(v, 4) for key, v in r.items()}
        rows[f"opus {kbps:g} kbps"] = opus_figures(clips, kbps)
    for kbps in (12.0, 24.0):
        rows[f"opus {kbps:g} kbps"] = opus_figures(clips, kbps)
    r = evaluate_codec(codec, clips, 1)
    rows[f"codec {codec.cfg.kbps(1):g} kbps (1 codebook)"] = {key: round(v, 4) for key, v in r.items()}
    if Path(args.vqvae).exists():
        vq = Codec.from_pretrained(args.vqvae)
        r = evaluate_codec(vq, clips)
        rows[f"vq-vae {vq.cfg.kbps():g} kbps (1 codebook, Euclidean)"] = {key: round(v, 4) for key, v in r.items()}
        vq_usage = codebook_usage(vq, clips)
    figures: dict[str, object] = {"clips": len(clips), "seconds": round(sum(len(c) for c in clips) / 16000, 1),
                                  "rows": rows, "codebook_usage": codebook_usage(codec, clips)}  # fmt: skip
    if Path(args.vqvae).exists():
        figures["vqvae_codebook_usage"] = vq_usage
    mine = rows[
        f"codec {codec.cfg.kbps(codec.cfg.codebooks_for(6.0)):g} kbps ({codec.cfg.codebooks_for(6.0)} codebooks)"
    ]
    f0_clips = clips[:: max(1, len(clips) // 8)][:8]
    f0_rows = {
        "codec 1.5 kbps": lambda c: codec_round_trip(codec, c, 1.5),
        "codec 6 kbps": lambda c: codec_round_trip(codec, c, 6.0),
        "opus 6 kbps": lambda c: opus_round_trip(c, 6.0).audio,
    }
    if Path(args.vqvae).exists():
        f0_rows["vq-vae"] = lambda c: codec_round_trip(vq, c)
    figures["f0_error_cents"] = {name: f0_error_cents(f0_clips, fn) for name, fn in tqdm(f0_rows.items(), desc="f0")}
    figures["codec_6kbps_vs_opus_6kbps_mel_ratio"] = round(
        mine["mel_distance"] / rows["opus 6 kbps"]["mel_distance"], 3
    )

    torch.set_num_threads(1)
    x = torch.tensor(np.concatenate(clips)[: 30 * 16000])[None, None]
    codec.decode_chunked(codec.encode_chunked(x[..., :16000]))
    t0 = time.perf_counter()
    codes = codec.encode_chunked(x)
    t1 = time.perf_counter()
    codec.decode_chunked(codes)
    t2 = time.perf_counter()
    seconds = x.shape[-1] / 16000
    figures["realtime_factor_1_core"] = {
        "encode": round(seconds / (t1 - t0), 1),
        "decode": round(seconds / (t2 - t1), 1),
        "encode_plus_decode": round(seconds / (t2 - t0), 1),
    }
    write_result("codec", figures, command="python benchmarks/codec.py")


if __name__ == "__main__":
    main()
