"""DDSP violin: resynthesis and timbre transfer on held-out renders, synthesis speed, f0 extraction speed.

usage: python benchmarks/ddsp.py [--model models/ddsp-violin] [--threads 1]

The held-out clips are the test split of the dataset the shipped model was trained on (rebuilt here with the
same command and seed: `cadenza data render --corpus essen --program violin --minutes 25`), pieces the model
never heard. Transfer sources are flute and trumpet renders of test-split pieces.

Measures (the DDSP paper's resynthesis measures, in our units):
- multi-scale spectral distance (FFT 2048..64, the training loss) between each clip and its resynthesis;
- f0 error: median |cents| between CREPE-tiny on the input and on the output, on confident frames;
  f0 outliers: share of those frames off by more than 50 cents;
- loudness error: mean |dB| of A-weighted loudness, frames above -60 dB (for transfer, after removing the
  loudness shift that the transfer applies on purpose).
The baseline in the same run is a non-learned synth: a sawtooth (1/k harmonics below Nyquist) at the tracked f0,
each frame's amplitude set so that its RMS equals the original frame's (an oracle level; the harmonics are
orthogonal, so a harmonic mix of amplitudes a * d_k has RMS a * sqrt(sum d_k^2 / 2)). Its spectral distance shows
what the learned timbre adds; `baseline_level_error_db` checks that the levels match (mean |dB| of A-weighted
loudness between the baseline and the original, frames above -60 dB).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from cadenza.audio import ddsp
from cadenza.audio.datasets import read_manifest, render_dataset
from cadenza.audio.dsp import a_weighted_loudness, f0_track, multiscale_spectral_distance
from cadenza.audio.synths import HarmonicSynth
from cadenza.core.audio import AudioClip
from cadenza.io.audio import read_audio

from common import write_result

CACHE = Path.home() / ".cache" / "cadenza" / "bench"


def dataset(program: str, minutes: float, seed: int = 0) -> Path:
    out = CACHE / f"{program}-{minutes:g}min-seed{seed}"
    if not (out / "manifest.jsonl").exists():
        render_dataset("essen", program, out, minutes=minutes, seed=seed, progress=False)
    return out


def sawtooth_baseline(f: ddsp.Features, cfg: ddsp.DDSPConfig) -> np.ndarray:
    synth = HarmonicSynth(cfg.sample_rate, cfg.hop, cfg.n_harmonics)
    k = torch.arange(1, cfg.n_harmonics + 1, dtype=torch.float32)
    t = len(f.f0_hz)
    f0 = torch.tensor(f.f0_hz)[None, :, None]
    dist = (1 / k).expand(1, t, -1) * (f0 * k < cfg.sample_rate / 2)
    dist = dist / dist.sum(-1, keepdim=True)
    frames = torch.tensor(f.audio[: t * cfg.hop]).reshape(t, cfg.hop)
    rms = frames.pow(2).mean(-1).sqrt()[None, :, None]
    amplitude = rms * np.sqrt(2) / dist.pow(2).sum(-1, keepdim=True).sqrt()  # the mix's RMS equals the frame's
    with torch.no_grad():
        return synth.get_signal(amplitude, dist, f0)[0].numpy()


def level_error_db(x: np.ndarray, reference: np.ndarray, cfg: ddsp.DDSPConfig) -> float:
    """Mean |dB| between the A-weighted loudness of x and of the reference, frames where the reference is above
    -60 dB."""
    a = np.asarray(a_weighted_loudness(x, cfg.sample_rate, cfg.frame_rate))
    b = np.asarray(a_weighted_loudness(reference, cfg.sample_rate, cfg.frame_rate))
    n = min(len(a), len(b))
    mask = b[:n] > -60
    return float(np.abs(a[:n][mask] - b[:n][mask]).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ddsp-violin")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clips", type=int, default=10, help="held-out clips per measure")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = ddsp.DDSP.from_pretrained(args.model)
    config = model.saved_config
    cfg = model.cfg
    figures: dict[str, object] = {"threads": args.threads}

    # --- resynthesis of held-out violin renders
    violin = dataset("violin", 25)
    test = read_manifest(violin, "test")[: args.clips]
    feats = [ddsp.extract_features(read_audio(violin / e["file"], sample_rate=cfg.sample_rate, mono=True), cfg)
             for e in test]  # fmt: skip
    res = ddsp.evaluate_resynthesis(model, feats)
    saws = [sawtooth_baseline(f, cfg) for f in feats]
    base = [
        float(multiscale_spectral_distance(torch.tensor(saw), torch.tensor(f.audio))) for saw, f in zip(saws, feats)
    ]
    base_level = [level_error_db(saw, f.audio, cfg) for saw, f in zip(saws, feats)]
    figures["resynthesis"] = {**{k: round(v, 4) for k, v in res.items()}, "clips": len(feats),
                              "minutes": round(sum(len(f.audio) for f in feats) / cfg.sample_rate / 60, 2),
                              "baseline_sawtooth_spectral_distance": round(float(np.mean(base)), 4),
                              "baseline_level_error_db": round(float(np.mean(base_level)), 2),
                              "ratio_to_baseline": round(res["spectral_distance"] / float(np.mean(base)), 3),
                              }  # fmt: skip

    # --- timbre transfer from other instruments (held-out pieces)
    transfer: dict[str, dict[str, float]] = {}
    for program in ("flute", "trumpet"):
        folder = dataset(program, 6, seed=1)
        entries = [e for e in read_manifest(folder) if e["split"] != "train"][: args.clips]
        cents, outliers, loud = [], [], []
        for e in entries:
            clip = read_audio(folder / e["file"], sample_rate=cfg.sample_rate, mono=True)
            # match_level=False: the loudness measure below follows the model's controls, not the file's level
            out, plan, src = ddsp.timbre_transfer(model, clip, figures=config["figures"], match_level=False)
            got = ddsp.extract_features(out, cfg)
            mask = src.confidence >= 0.5
            target = src.f0_hz[mask] * 2 ** (plan.pitch_shift / 12)
            c = np.abs(1200 * np.log2(got.f0_hz[mask] / target))
            cents.append(np.median(c))
            outliers.append((c > 50).mean())
            lm = src.loudness_db > -60
            loud.append(np.abs(got.loudness_db[lm] - (src.loudness_db[lm] + plan.loudness_shift_db)).mean())
        transfer[program] = {"clips": len(entries), "f0_error_cents": round(float(np.mean(cents)), 2),
                             "f0_outliers": round(float(np.mean(outliers)), 4),
                             "loudness_error_db": round(float(np.mean(loud)), 2)}  # fmt: skip
    figures["transfer"] = transfer

    # --- speed: decoder + synths on one core, 60 s of controls
    torch.set_num_threads(1)
    f0 = np.full(60 * cfg.frame_rate, 392.0, np.float32)
    loud_db = np.full_like(f0, -30.0)
    ddsp.synthesize(model, f0[:100], loud_db[:100])
    t0 = time.perf_counter()
    ddsp.synthesize(model, f0, loud_db)
    synth_s = time.perf_counter() - t0
    figures["synthesis_realtime_factor_1_core"] = round(60 / synth_s, 1)

    # --- f0 extraction time per minute of audio (measured on 20 s, scaled)
    clip = AudioClip(feats[0].audio[: 20 * cfg.sample_rate], cfg.sample_rate)
    f0_times = {}
    for method in ("crepe-tiny", "crepe-full", "pyin"):
        f0_track(AudioClip(clip.samples[:, : cfg.sample_rate], cfg.sample_rate), cfg.frame_rate, method)  # warm-up
        t0 = time.perf_counter()
        f0_track(clip, cfg.frame_rate, method)
        f0_times[method] = round((time.perf_counter() - t0) * 60 / clip.duration_s, 1)
    figures["f0_seconds_per_minute_of_audio_1_core"] = f0_times
    write_result("ddsp", figures, command="python benchmarks/ddsp.py")


if __name__ == "__main__":
    main()
