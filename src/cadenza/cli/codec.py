"""`cadenza codec train | encode | decode | stream | morph`: the neural audio codec (RVQGAN in the manner of DAC)
and its VQ-VAE baseline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from cadenza.audio.codec import CodecConfig
    from cadenza.audio.codec_train import CARD, CodecLossConfig, decoder_text, encoder_text, lookup_text, train_codec
    from cadenza.train.loop import ParamGroup

    if args.decoder_only and not args.init_from:
        raise InputError("--decoder-only", "needs --init-from: the codec whose encoder and codebooks stay as they are")
    if args.note_weight and args.decoder_only:
        raise InputError("--note-weight", "teaches the encoder's first codebook, which --decoder-only freezes")
    if args.note_codebook and args.decoder_only:
        raise InputError("--note-codebook", "makes new codes, which --decoder-only keeps as the start model's")
    if args.note_weight and args.note_codebook:
        raise InputError("--note-weight", "teaches the first codebook the notes, which --note-codebook makes it")
    if args.init_from:  # the start model's architecture, whatever the architecture options say
        from cadenza.audio.codec import Codec

        cfg = Codec.from_pretrained(args.init_from).cfg
        if args.note_codebook and not cfg.note_codebook:  # the start's last codebook gives way to the note
            cfg = replace(cfg, note_codebook=True)
    elif args.vqvae:  # van den Oord et al.: one codebook learned by the codebook loss
        cfg = CodecConfig(n_codebooks=1, factorized=False, ema=False, quantizer_dropout=0.0,
                          cardinality=args.cardinality)  # fmt: skip
    else:
        try:
            cfg = CodecConfig(n_codebooks=args.codebooks, cardinality=args.cardinality, channels=args.channels,
                              decoder_channels=args.decoder_channels, factorized=args.factorized, causal=args.causal,
                              decoder=args.decoder, decoder_layers=args.decoder_layers, latent_dim=args.latent_dim,
                              strides=tuple(args.strides), encoder=args.encoder,
                              note_codebook=args.note_codebook)  # fmt: skip
        except ValueError as e:
            flag = "--note-codebook" if "note" in str(e) else "--encoder" if "encoder" in str(e) else "--decoder"
            raise InputError(flag, str(e)) from None
    if args.note_alone is not None and not (cfg.note_codebook and 0 <= args.note_alone <= 1):
        raise InputError("--note-alone", "is a share in [0, 1], for a codec with a note codebook (--note-codebook)")
    if args.pitch_adversary and not (cfg.note_codebook and args.pitch_adversary > 0 and not args.decoder_only):
        raise InputError("--pitch-adversary", "is a weight > 0, for a codec with a note codebook (--note-codebook) "
                         "whose codes train (not --decoder-only)")  # fmt: skip
    for flag, weight in (("--phase-weight", args.phase_weight), ("--magnitude-weight", args.magnitude_weight)):
        if weight and cfg.decoder != "vocos":  # these losses read a Vocos decoder's STFT frames
            raise InputError(flag, f"needs a Vocos decoder (this codec's decoder is '{cfg.decoder}')")
    loss = CodecLossConfig(adversarial=args.adversarial, batch_size=args.batch_size,
                           spectral_weight=args.spectral_weight, decoder_only=args.decoder_only,
                           magnitude_weight=args.magnitude_weight, note_weight=args.note_weight,
                           note_alone=args.note_alone, pitch_adversary=args.pitch_adversary,
                           phase_weight=args.phase_weight)  # fmt: skip
    lr = args.lr or (3e-4 if args.adversarial else 1e-3)
    groups: tuple[ParamGroup, ...] = (
        (ParamGroup("discriminator", "disc.", lr=args.disc_lr),) if args.adversarial else ()
    )
    if cfg.note_codebook:  # the note table starts at zeros under a latent of spread ~4: it moves 30x faster
        groups += (ParamGroup("notes", "codec.notes.", lr=30 * lr, weight_decay=0.0),)
    tc = common.train_config(args, lr=lr, warmup_steps=min(100 if args.adversarial else 200, args.steps // 10),
                             betas=(0.8, 0.99), groups=groups)  # fmt: skip
    codec, figures = train_codec(args.data, Path(args.output) / "run", cfg, loss, tc, init_from=args.init_from,
                                 new_segment=args.new_segment)  # fmt: skip
    print(", ".join(f"{k} {v}" for k, v in figures.items() if k.startswith("valid_")))
    common.save_trained(
        codec, args, figures, CARD, name=Path(args.output).name,
        what="VQ-VAE (one codebook, Euclidean lookup)" if args.vqvae else "RVQGAN", sample_rate=cfg.sample_rate,
        encoder=encoder_text(cfg), decoder=decoder_text(cfg), frame_rate=cfg.frame_rate,
        n_codebooks=cfg.n_codebooks,
        cardinality=cfg.cardinality, lookup=lookup_text(cfg), dropout=cfg.quantizer_dropout, kbps_low=cfg.kbps(1),
        kbps_high=cfg.kbps(), kbps_step=cfg.kbps(1), data=" + ".join(args.data), config=json.dumps(asdict(cfg)),
        loss=json.dumps(asdict(loss)),
    )  # fmt: skip
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    import torch

    from cadenza.audio.codec import Codec
    from cadenza.audio.codec_train import write_codes
    from cadenza.io.audio import read_audio

    common.set_threads(args)
    codec = Codec.from_pretrained(args.model)
    notes: list[str] = []
    clip = read_audio(args.input, sample_rate=codec.sample_rate, mono=True, notes=notes)
    for n in notes:
        print(f"{args.input}: {n}")
    if args.kbps and args.kbps < codec.cfg.kbps(1):
        raise InputError("--kbps", f"the lowest bitrate of this codec is {codec.cfg.kbps(1):g} kbps")
    k = codec.cfg.codebooks_for(args.kbps) if args.kbps else codec.n_codebooks
    codes = codec.encode_chunked(torch.tensor(clip.samples)[None], k)
    write_codes(args.output, codes, codec, clip.n_samples)
    size = Path(args.output).stat().st_size
    real = 8 * size / clip.duration_s / 1000
    print(f"wrote {args.output}: {k} codebooks x {codes.shape[-1]} frames = {codec.cfg.kbps(k):g} kbps "
          f"({clip.duration_s:.1f} s, {size:,} bytes: {real:.2f} kbps with the header)")  # fmt: skip
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from cadenza.audio.codec import Codec
    from cadenza.audio.codec_train import read_codes
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    common.set_threads(args)
    codec = Codec.from_pretrained(args.model)
    codes, n_samples = read_codes(args.input, codec)
    audio = codec.decode_chunked(codes)[0, :, :n_samples]
    out = write_audio(AudioClip(audio.numpy(), codec.sample_rate), args.output)
    print(f"wrote {out} ({n_samples / codec.sample_rate:.1f} s from {codes.shape[1]} codebooks)")
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    """A live performance, simulated: the file goes through encode + decode block by block, as from a sound card."""
    import time

    import numpy as np
    import torch

    from cadenza.audio.codec import Codec
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import read_audio, write_audio

    common.set_threads(args)
    codec = Codec.from_pretrained(args.model)
    if not codec.cfg.causal:
        raise InputError(args.model or "models/codec", "this codec looks ahead and cannot stream: train one with "
                                                       "`cadenza codec train --causal`")  # fmt: skip
    hop, sr = codec.cfg.hop, codec.sample_rate
    block = round(args.block_ms * sr / 1000)
    if block < hop or block % hop:
        raise InputError("--block-ms", f"{args.block_ms:g} ms is not a whole number of this codec's "
                                       f"{1000 * hop / sr:g} ms frames")  # fmt: skip
    if args.kbps and args.kbps < codec.cfg.kbps(1):
        raise InputError("--kbps", f"the lowest bitrate of this codec is {codec.cfg.kbps(1):g} kbps")
    k = codec.cfg.codebooks_for(args.kbps) if args.kbps else codec.n_codebooks
    clip = read_audio(args.input, sample_rate=sr, mono=True)
    x = codec.pad_to_frames(torch.tensor(clip.samples)[None])
    out, seconds = [], []
    with torch.no_grad(), codec.stream():
        for start in range(0, x.shape[-1], block):
            chunk = x[..., start : start + block]
            chunk = torch.nn.functional.pad(chunk, (0, (-chunk.shape[-1]) % hop))
            t0 = time.perf_counter()
            out.append(codec.decode(codec.encode(chunk, k)))
            seconds.append(time.perf_counter() - t0)
    y = torch.cat(out, -1)[0, :, codec.delay : codec.delay + clip.n_samples]
    path = write_audio(AudioClip(y.numpy(), sr), args.output)
    s = np.array(seconds) * 1000
    print(f"wrote {path}: {len(s)} blocks of {1000 * block / sr:g} ms at {codec.cfg.kbps(k):g} kbps; latency "
          f"{1000 * (block + codec.delay) / sr:g} ms (the block + {1000 * codec.delay / sr:g} ms of filter delay); "
          f"compute per block median {np.median(s):.1f} ms, slowest {s.max():.1f} ms "
          f"({1000 * block / sr / np.median(s):.1f}x real time)")  # fmt: skip
    return 0


def cmd_morph(args: argparse.Namespace) -> int:
    from cadenza.audio.codec import Codec
    from cadenza.audio.codec_train import morph
    from cadenza.io.audio import read_audio, write_audio

    common.set_threads(args)
    codec = Codec.from_pretrained(args.model)
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


def register(sub: Any) -> None:
    c = sub.add_parser("codec", help="the neural audio codec: train, encode, decode, morph")
    csub = c.add_subparsers(dest="codec_command", required=True, metavar="ACTION")
    t = csub.add_parser("train", help="train on a dataset folder (from `cadenza data render`)")
    t.add_argument(
        "--data",
        required=True,
        nargs="+",
        help="dataset folders from `cadenza data render` / `data textures` (their clips pooled)",
    )
    t.add_argument("--codebooks", type=int, default=12)
    t.add_argument("--cardinality", type=int, default=1024)
    t.add_argument("--channels", type=int, default=32)
    t.add_argument("--decoder-channels", type=int, default=256, help="decoder width (default 256)")
    t.add_argument(
        "--decoder",
        choices=["conv", "vocos"],
        default="conv",
        help="conv: transposed convolutions (DAC); vocos: ConvNeXt blocks + inverse STFT (default conv)",
    )
    t.add_argument("--decoder-layers", type=int, default=8, help="ConvNeXt blocks of the vocos decoder (default 8)")
    t.add_argument(
        "--encoder",
        choices=["waveform", "mel"],
        default="waveform",
        help="waveform: strided convolutions over PQMF bands (DAC); mel: convolutions over a fixed STFT's log-mel "
        "frames, which hold the pitch from the first step (default waveform)",
    )
    t.add_argument("--latent-dim", type=int, default=64, help="latent size per frame (default 64)")
    t.add_argument(
        "--strides",
        type=int,
        nargs="+",
        default=[4, 4, 5],
        help="encoder strides; the hop is 4 bands x their product (default 4 4 5: 50 frames/s)",
    )
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--vqvae", action="store_true", help="the VQ-VAE baseline: one codebook, Euclidean lookup")
    t.add_argument(
        "--factorized",
        action="store_true",
        help="DAC's 8-d L2-normalized lookups (default: Euclidean lookups in the latent)",
    )
    t.add_argument("--causal", action="store_true", help="no look-ahead: a codec that streams (`cadenza codec stream`)")
    t.add_argument("--adversarial", action="store_true", help="add the discriminators (DAC's GAN phase)")
    t.add_argument("--disc-lr", type=float, help="the discriminators' own learning rate (default: --lr)")
    t.add_argument("--init-from", help="a saved codec to start from (e.g. the mel-only phase); its architecture kept")
    t.add_argument(
        "--decoder-only",
        action="store_true",
        help="train the decoder of --init-from alone: its encoder and codebooks stay, so do its codes",
    )
    t.add_argument(
        "--spectral-weight",
        type=float,
        default=0.0,
        help="weight of DDSP's multi-scale spectral loss (linear + log magnitudes) beside the mel loss (default 0)",
    )
    t.add_argument(
        "--phase-weight",
        type=float,
        default=0.0,
        help="vocos decoder: weight of APNet's anti-wrapped phase losses against the input's STFT phase, which teach "
        "it to hold a tone from frame to frame (default 0)",
    )
    t.add_argument(
        "--magnitude-weight",
        type=float,
        default=0.0,
        help="vocos decoder: weight of a log-magnitude L1 against the input's STFT, frame by frame before the inverse "
        "STFT (APNet's amplitude loss; default 0)",
    )
    t.add_argument(
        "--note-weight",
        type=float,
        default=0.0,
        help="weight of a loss that makes the first codebook alone predict the input's notes (harmonic-sum pitch "
        "salience), so that the first codes hold the tune for the token models (default 0)",
    )
    t.add_argument(
        "--note-codebook",
        action="store_true",
        help="make the first codebook each frame's dominant note (harmonic-sum pitch salience; 0: none), the "
        "residual codebooks code the rest; with --init-from, the start's last codebook gives way to it",
    )
    t.add_argument(
        "--note-alone",
        type=float,
        help="note codebook: the share of training items decoded from the note alone, the only ones that teach the "
        "note's vectors (default: the quantizer dropout / the codebooks, 0.04)",
    )
    t.add_argument(
        "--pitch-adversary",
        type=float,
        default=0.0,
        metavar="WEIGHT",
        help="note codebook: a classifier learns each frame's note from the residual codes, and the codec is trained "
        "against it (reversed gradient x WEIGHT), so that the note's vector carries the pitch (default 0: off)",
    )
    common.add_training(t, steps=4000, lr=None, eval_every=500,
                        lr_help="learning rate (default 1e-3; 3e-4 with --adversarial)")  # fmt: skip
    t.set_defaults(func=cmd_train)
    e = csub.add_parser("encode", help="audio -> codes (a .codes file: bit-packed, the nominal bitrate + a header)")
    e.add_argument("input")
    common.add_model(e, "codec")
    e.add_argument("--kbps", type=float, help="target bitrate (default: every codebook)")
    common.add_threads(e)
    common.add_output(e, "codes file (e.g. OUT.codes)")
    e.set_defaults(func=cmd_encode)
    d = csub.add_parser("decode", help="codes (.codes) -> audio")
    d.add_argument("input")
    common.add_model(d, "codec")
    common.add_threads(d)
    common.add_output(d, "output .wav")
    d.set_defaults(func=cmd_decode)
    s = csub.add_parser("stream", help="encode + decode block by block, as live (a causal codec only)")
    s.add_argument("input")
    common.add_model(s, "codec")
    s.add_argument("--block-ms", type=float, default=20.0, help="block size, a whole number of frames (default 20)")
    s.add_argument("--kbps", type=float, help="target bitrate (default: every codebook)")
    common.add_threads(s)
    common.add_output(s, "output .wav")
    s.set_defaults(func=cmd_stream)
    m = csub.add_parser("morph", help="interpolate between two sounds in the codec's latent or code space")
    m.add_argument("a")
    m.add_argument("b")
    m.add_argument("--steps", type=int, default=5)
    m.add_argument("--space", choices=["latent", "codes"], default="latent")
    common.add_model(m, "codec")
    common.add_threads(m)
    common.add_output(m, "output folder")
    m.set_defaults(func=cmd_morph)
