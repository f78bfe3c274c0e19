"""`cadenza codec train | encode | decode | morph`: the neural audio codec (RVQGAN in the manner of DAC)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cadenza.errors import InputError

CARD = """# Neural audio codec `{name}` (cadenza)

{what} at {sample_rate} Hz: {n_bands} PQMF bands, a convolutional encoder / decoder with Snake activations and
dilated residual units (strides {strides}, {frame_rate:g} frames/s), {n_codebooks} codebooks of {cardinality}
codes ({lookup}), quantizer dropout {dropout}: one model for
{kbps_low:g} to {kbps_high:g} kbps ({kbps_step:g} kbps per codebook). Trained on the train split of `{data}`.

- Config: `{config}`
- Losses: `{loss}`
- Optimization: `{train}`
- Command: `{command}`
- Wall time: {wall:.1f} min on {device}

| figure (validation clips) | value |
|---|---|
{figures}

`mel` is DAC's multi-scale mel distance (lower is better), `si_sdr` the scale-invariant SDR in dB;
`codebook_usage` is each codebook's code entropy as a share of log2({cardinality}) (1 = every code equally used).

    cadenza codec encode in.wav --kbps 3 -o in.npz && cadenza codec decode in.npz -o out.wav
"""


def _model_folder(arg: str | None) -> Path:
    from cadenza.paths import shipped_model

    return Path(arg) if arg else shipped_model("codec", "config.json").parent


def lookup_text(cfg: Any) -> str:
    if cfg.factorized:
        return f"{cfg.codebook_dim}-d factorized L2-normalized lookups, as DAC"
    learned = "moving-average (k-means) codebooks, as EnCodec" if cfg.ema else "codebook loss"
    return f"Euclidean lookups in the {cfg.latent_dim}-d latent, {learned}"


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from cadenza.audio.codec import CodecConfig
    from cadenza.audio.codec_train import CodecLossConfig, save_codec, train_codec
    from cadenza.cli import _card_figures, card_command
    from cadenza.train.loop import TrainConfig

    if args.vqvae:  # van den Oord et al.: one codebook learned by the codebook loss
        cfg = CodecConfig(n_codebooks=1, factorized=False, ema=False, quantizer_dropout=0.0,
                          cardinality=args.cardinality)  # fmt: skip
    else:
        cfg = CodecConfig(n_codebooks=args.codebooks, cardinality=args.cardinality, channels=args.channels,
                          decoder_channels=args.decoder_channels, factorized=args.factorized)  # fmt: skip
    loss = CodecLossConfig(adversarial=args.adversarial, batch_size=args.batch_size)
    lr = args.lr or (3e-4 if args.adversarial else 1e-3)
    tc = TrainConfig(max_steps=args.steps, lr=lr, warmup_steps=min(100 if args.adversarial else 200, args.steps // 10),
                     betas=(0.8, 0.99), eval_every=args.eval_every, checkpoint_every=args.eval_every, seed=args.seed,
                     threads=args.threads, max_seconds=60 * (args.minutes or 0))  # fmt: skip
    codec, figures = train_codec(args.data, Path(args.output) / "run", cfg, loss, tc, init_from=args.init_from)
    command = card_command("cadenza codec train ...")
    card = CARD.format(
        name=Path(args.output).name, what="VQ-VAE (one codebook, Euclidean lookup)" if args.vqvae else "RVQGAN",
        sample_rate=cfg.sample_rate, n_bands=cfg.n_bands, strides=cfg.strides, frame_rate=cfg.frame_rate,
        n_codebooks=cfg.n_codebooks, cardinality=cfg.cardinality, lookup=lookup_text(cfg),
        dropout=cfg.quantizer_dropout, kbps_low=cfg.kbps(1), kbps_high=cfg.kbps(),
        kbps_step=cfg.kbps(1), data=args.data, config=json.dumps(asdict(cfg)), loss=json.dumps(asdict(loss)),
        train=json.dumps(asdict(tc)), command=command, wall=figures["train_seconds"] / 60,
        device=torch.cuda.get_device_name() if torch.cuda.is_available() else "this machine's CPU",
        figures=_card_figures(figures),
    )  # fmt: skip
    save_codec(codec, args.output, figures, card)
    print(", ".join(f"{k} {v}" for k, v in figures.items() if k.startswith("valid_")))
    print(f"wrote {args.output}/model.safetensors, config.json, card.md")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    import torch

    from cadenza.audio.codec_train import load_codec, write_codes
    from cadenza.io.audio import read_audio

    codec, _ = load_codec(_model_folder(args.model))
    notes: list[str] = []
    clip = read_audio(args.input, sample_rate=codec.sample_rate, mono=True, notes=notes)
    for n in notes:
        print(f"{args.input}: {n}")
    k = codec.cfg.codebooks_for(args.kbps) if args.kbps else codec.n_codebooks
    if args.kbps and args.kbps < codec.cfg.kbps(1):
        raise InputError("--kbps", f"the lowest bitrate of this codec is {codec.cfg.kbps(1):g} kbps")
    codes = codec.encode_chunked(torch.tensor(clip.samples)[None], k)
    write_codes(args.output, codes, codec, clip.n_samples)
    print(f"wrote {args.output}: {k} codebooks x {codes.shape[-1]} frames = {codec.cfg.kbps(k):g} kbps "
          f"({clip.duration_s:.1f} s)")  # fmt: skip
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from cadenza.audio.codec_train import load_codec, read_codes
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    codec, _ = load_codec(_model_folder(args.model))
    codes, n_samples = read_codes(args.input, codec)
    audio = codec.decode_chunked(codes)[0, :, :n_samples]
    out = write_audio(AudioClip(audio.numpy(), codec.sample_rate), args.output)
    print(f"wrote {out} ({n_samples / codec.sample_rate:.1f} s from {codes.shape[1]} codebooks)")
    return 0


def cmd_morph(args: argparse.Namespace) -> int:
    from cadenza.audio.codec_train import load_codec, morph
    from cadenza.io.audio import read_audio, write_audio

    codec, _ = load_codec(_model_folder(args.model))
    a = read_audio(args.a, sample_rate=codec.sample_rate, mono=True)
    b = read_audio(args.b, sample_rate=codec.sample_rate, mono=True)
    try:
        clips = morph(codec, a, b, args.steps, args.space)
    except ValueError as e:
        raise InputError(args.a, str(e)) from None
    out = Path(args.output)
    for i, c in enumerate(clips):
        write_audio(c, out / f"morph_{i:02d}.wav")
    print(f"wrote {len(clips)} steps from {args.a} to {args.b} ({args.space} space) in {out}/morph_*.wav")
    return 0


def add_parser(sub: Any) -> None:
    c = sub.add_parser("codec", help="the neural audio codec: train, encode, decode, morph")
    csub = c.add_subparsers(dest="codec_command", required=True, metavar="ACTION")
    t = csub.add_parser("train", help="train on a dataset folder (resumes from OUTPUT/run)")
    t.add_argument("--data", required=True, help="a folder from `cadenza data render`")
    t.add_argument("--steps", type=int, default=4000)
    t.add_argument("--lr", type=float, help="learning rate (default 1e-3; 3e-4 with --adversarial)")
    t.add_argument("--codebooks", type=int, default=12)
    t.add_argument("--cardinality", type=int, default=1024)
    t.add_argument("--channels", type=int, default=32)
    t.add_argument("--decoder-channels", type=int, default=256)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--vqvae", action="store_true", help="the VQ-VAE baseline: one codebook, Euclidean lookup")
    t.add_argument(
        "--factorized",
        action="store_true",
        help="DAC's 8-d L2-normalized lookups (default: Euclidean lookups in the latent, EnCodec's)",
    )
    t.add_argument("--minutes", type=float, help="stop (with a checkpoint) after this many minutes of training")
    t.add_argument("--adversarial", action="store_true", help="add the discriminators (DAC's GAN phase)")
    t.add_argument("--init-from", help="a saved codec to start from (the mel-only phase)")
    t.add_argument("--eval-every", type=int, default=500)
    t.add_argument("--threads", type=int, default=0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("-o", "--output", required=True, help="model folder")
    t.set_defaults(func=cmd_train)
    e = csub.add_parser("encode", help="audio -> codes (.npz)")
    e.add_argument("input")
    e.add_argument("--model", help="codec folder (default: the shipped models/codec)")
    e.add_argument("--kbps", type=float, help="target bitrate (default: every codebook)")
    e.add_argument("-o", "--output", required=True, help="codes file (.npz)")
    e.set_defaults(func=cmd_encode)
    d = csub.add_parser("decode", help="codes (.npz) -> audio")
    d.add_argument("input")
    d.add_argument("--model", help="codec folder (default: the shipped models/codec)")
    d.add_argument("-o", "--output", required=True, help="output .wav")
    d.set_defaults(func=cmd_decode)
    m = csub.add_parser("morph", help="interpolate between two sounds in the codec's latent or code space")
    m.add_argument("a")
    m.add_argument("b")
    m.add_argument("--steps", type=int, default=5)
    m.add_argument("--space", choices=["latent", "codes"], default="latent")
    m.add_argument("--model", help="codec folder (default: the shipped models/codec)")
    m.add_argument("-o", "--output", required=True, help="output folder")
    m.set_defaults(func=cmd_morph)
