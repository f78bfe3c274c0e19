"""The parts under the audio token models, measured: which codec codes textures (the shipped conv codec against
codec-vocos, at the 4 codebooks the token models read), and GANSynth's spectral representation (how exactly each
variant round-trips real notes) and the cost of one training step at the paper's size.

usage: python benchmarks/token_parts.py [--textures /work/data/textures]

- codec: DAC's mel distance of each texture kind's validation clips (`cadenza data textures --kind wind rain engine
  bugs fm applause --duration 6`) coded and decoded at 4 codebooks, mean per kind;
- GANSynth: notes rendered here (`cadenza.audio.notes`: flute and piano, MIDI 48 / 60 / 72, FluidR3) through
  features and back, DAC's mel distance to the note, for linear IF, IF-Mel at 512 and at 1024 bins, and magnitude
  only (Griffin-Lim, 32 iterations); seconds of one WGAN-GP step of 8 notes on one core at the default size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cadenza.audio.dsp import mel_distance
from cadenza.io.audio import read_audio

from common import write_result


def codec_on_textures(folder: str) -> dict[str, Any]:
    from cadenza.audio.codec import Codec
    from cadenza.audio.datasets import read_manifest

    out: dict[str, Any] = {}
    entries = read_manifest(folder, "valid")
    for name in ("codec", "codec-vocos"):
        codec = Codec.from_pretrained(name)
        per: dict[str, list[float]] = {}
        for e in entries:
            x = read_audio(Path(folder) / e["file"], sample_rate=16000, mono=True).samples[0]
            y = codec.decode_chunked(codec.encode_chunked(torch.tensor(x)[None, None], 4))[0, 0, : len(x)]
            per.setdefault(e["kind"], []).append(float(mel_distance(torch.tensor(x), y, 16000)))
        out[name] = {k: round(float(np.mean(v)), 2) for k, v in sorted(per.items())}
        print(name, out[name], flush=True)
    return out


def gansynth_parts() -> dict[str, Any]:
    from cadenza.audio.gansynth import GANSynthConfig, GANSynthTrainer, SpectralIF
    from cadenza.audio.notes import build_notes

    variants = {"linear_if": GANSynthConfig(), "if_mel_512": GANSynthConfig(mel=True),
                "if_mel_1024": GANSynthConfig(mel=True, n_fft=2048, hop=256, frames=256,
                                              channels=(256, 256, 256, 128, 64, 32, 16, 8)),
                "magnitude_only": GANSynthConfig(if_channel=False)}  # fmt: skip
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        notes = build_notes(Path(tmp) / "n", soundfonts=["fluidr3"], programs=[0, 73], pitch_range=(48, 72),
                            progress=False)  # fmt: skip
        clips = [(e["note"], read_audio(Path(tmp) / "n" / e["file"]).samples[0]) for e in notes
                 if e["pitch"] in (48, 60, 72)]  # fmt: skip
    for name, cfg in variants.items():
        spec = SpectralIF(cfg)
        dists = []
        for _, x in clips:
            t = torch.tensor(x)[None]
            y = spec.inverse(spec(t))[0]
            n = min(len(x), y.shape[-1])
            dists.append(float(mel_distance(y[:n], t[0, :n], cfg.sample_rate)))
        out[f"round_trip_mel_{name}"] = {"median": round(float(np.median(dists)), 3),
                                         "max": round(float(np.max(dists)), 3)}  # fmt: skip
    cfg = GANSynthConfig()
    trainer = GANSynthTrainer(cfg)
    feats = SpectralIF(cfg)(torch.tensor(np.stack([x for _, x in clips[:8]])))
    pitch = torch.randint(0, cfg.n_pitches, (len(feats),))
    t0 = time.perf_counter()
    trainer(feats, pitch, torch.randn(len(feats), cfg.latent_dim))["loss"].backward()
    out["train_step_s_batch_8_one_core"] = round(time.perf_counter() - t0, 1)
    out["parameters_generator_discriminator"] = [sum(p.numel() for p in trainer.model.generator.parameters()),
                                                  sum(p.numel() for p in trainer.disc.parameters())]  # fmt: skip
    print(out, flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--textures", default="/work/data/textures")
    args = ap.parse_args()
    torch.set_num_threads(1)
    figures = {"codec_mel_at_4_codebooks_by_texture": codec_on_textures(args.textures), "gansynth": gansynth_parts()}
    write_result("token_parts", figures, command="python benchmarks/token_parts.py")


if __name__ == "__main__":
    main()
