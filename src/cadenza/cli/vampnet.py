"""`cadenza vampnet train | vamp`: a masked codec-token model that vamps on a recording (variations, continuation,
inpainting, loops), trained here or fine-tuned on a folder of your own audio."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from cadenza.audio.dsp import SALIENCE_NOTES
    from cadenza.audio.vampnet import VampNetConfig
    from cadenza.audio.vampnet_train import CARD, card_fields, train_vampnet

    try:
        base = VampNetConfig(codec=args.codec, n_codebooks=args.codebooks, n_conditioning=args.conditioning,
                             context=args.context, n_layer=args.layers, n_head=args.heads,
                             n_embd=args.width, embedding=args.embedding, dropout=args.dropout,
                             tune_bins=SALIENCE_NOTES[1] - SALIENCE_NOTES[0] + 1 if args.tune else 0)  # fmt: skip
    except ValueError as e:
        raise InputError("vampnet config", str(e)) from None
    tc = common.train_config(args, warmup_steps=min(200, args.steps // 10), betas=(0.9, 0.95),
                             keep_best="-valid/loss")  # fmt: skip
    model, figures = train_vampnet(args.data, Path(args.output) / "run", base, tc, batch_size=args.batch_size,
                                   init_from=args.init_from, new_segment=args.new_segment,
                                   tune_dropout=args.tune_dropout)  # fmt: skip
    print(", ".join(f"{k} {v}" for k, v in figures.items() if k.startswith(("valid_", "uniform"))))
    common.save_trained(model, args, figures, CARD, name=Path(args.output).name,
                        **card_fields(model, args.data, figures))  # fmt: skip
    return 0


def _read(path: str, sample_rate: int) -> Any:
    return common.read_mono(path, sample_rate, min_s=0.5)


def cmd_vamp(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from cadenza.audio.vampnet import VampNet, detect_beats, prompt_mask
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    common.set_threads(args)
    if args.steps < 1:
        raise InputError("--steps", f"must be at least 1, got {args.steps}")
    if args.c2f_steps < 1:
        raise InputError("--c2f-steps", f"must be at least 1, got {args.c2f_steps}")
    if args.loop < 1:
        raise InputError("--loop", f"must be at least 1, got {args.loop}")
    model = VampNet.from_pretrained(args.model)
    if args.follow_tune is not None and args.follow_tune < 0:
        raise InputError("--follow-tune", f"the tune's guidance weight must be >= 0, got {args.follow_tune:g}")
    if args.follow_tune is not None and not model.cfg.tune_bins:
        raise InputError(args.model, "was trained without the tune (vampnet train --tune): it cannot follow one")
    codec = model.codec
    k = model.cfg.n_codebooks
    c2f = _coarse_to_fine(args.c2f, model) if args.c2f else None
    k_all = c2f.cfg.n_codebooks if c2f else k  # codebooks read from the input (the fine ones kept where prompted)
    if args.input.endswith(".codes"):  # codes from `cadenza codec encode`: checked to be this codec's
        from cadenza.audio.codec_train import read_codes

        codes, n_samples = read_codes(args.input, codec)
        if codes.shape[1] < k:
            raise InputError(args.input, f"holds {codes.shape[1]} codebooks; the model reads {k} (encode at a "
                                         f"higher --kbps)")  # fmt: skip
        codes = codes[:, :k_all].repeat(1, 1, args.loop)
        n_samples *= args.loop
        x = (
            codec.decode_chunked(codes)[0, 0, :n_samples].numpy()
            if args.follow_tune is not None or any(p == "beat" for p in args.prompt or [])
            else None
        )
    else:
        clip = _read(args.input, codec.sample_rate)
        x = np.tile(clip.samples[0], args.loop)
        n_samples = len(x)
        codes = codec.encode_chunked(torch.tensor(x)[None, None], k_all)
    fine = codes[:, k:] if codes.shape[1] == k_all and c2f else None
    codes = codes[:, :k]
    n = codes.shape[-1]
    prompts = args.prompt or ["periodic:7"]
    beats = detect_beats(x, codec.sample_rate) if x is not None and any(p.strip() == "beat" for p in prompts) else None
    mask = prompt_mask(prompts, n, model.cfg, beats=beats)
    sampling = {"temperature": args.temperature, "top_p": args.top_p, "typical_mass": args.typical,
                "mask_temperature": args.mask_temperature, "seed": args.seed}  # fmt: skip
    tune = None
    if args.follow_tune is not None:
        assert x is not None
        tune = model.tune_of(x, codec.sample_rate, n)
    out = model.vamp(codes, mask, steps=args.steps, guidance=args.guidance, progress=n > model.cfg.context,
                     tune=tune, tune_guidance=args.follow_tune or 0.0, **sampling)  # fmt: skip
    if c2f is not None:  # the finer codebooks, given the coarse ones everywhere
        out = c2f.refine(out, mask, fine, steps=args.c2f_steps, guidance=0.0, progress=n > c2f.cfg.context, **sampling)
    if args.output.endswith(".codes"):
        from cadenza.audio.codec_train import write_codes

        path = write_codes(args.output, out, codec, n_samples)
    else:
        y = codec.decode_chunked(out)[0, 0, :n_samples].numpy()
        path = write_audio(AudioClip(y.astype(np.float32), codec.sample_rate), args.output)
    share = float(mask[:, model.cfg.n_conditioning :].float().mean())
    fine_note = f", {k_all - k} finer codebooks by {args.c2f} in {args.c2f_steps} steps" if c2f else ""
    tune_note = ", following the input's tune" if tune is not None else ""
    print(f"wrote {path} ({n_samples / codec.sample_rate:.1f} s, {' '.join(prompts)}: {share:.0%} of the tokens "
          f"generated in {args.steps} steps{fine_note}{tune_note}, seed {args.seed})")  # fmt: skip
    return 0


def _coarse_to_fine(name: str, coarse: Any) -> Any:
    """The coarse-to-fine model `name`, checked to continue `coarse` (same codec, its codebooks as conditioning)."""
    from cadenza.audio.vampnet import VampNet

    c2f = VampNet.from_pretrained(name)
    if c2f.cfg.n_conditioning == 0:
        raise InputError(name, "is a coarse model, not a coarse-to-fine one (trained without --conditioning)")
    if c2f.cfg.codec_id != coarse.cfg.codec_id or c2f.cfg.n_conditioning != coarse.cfg.n_codebooks:
        raise InputError(name, f"refines {c2f.cfg.n_conditioning} codebooks of codec {c2f.cfg.codec_id}; "
                               f"the coarse model makes {coarse.cfg.n_codebooks} of {coarse.cfg.codec_id}")  # fmt: skip
    return c2f


def register(sub: Any) -> None:
    v = sub.add_parser("vampnet", help="VampNet: vamp on a recording (variations, continuation, inpainting, loops)")
    vsub = v.add_subparsers(dest="vampnet_command", required=True, metavar="ACTION")

    t = vsub.add_parser("train", help="train, or fine-tune (--init-from) on a folder of your own audio")
    t.add_argument(
        "--data",
        required=True,
        nargs="+",
        help="dataset folders (`cadenza data render`) or folders of your audio (every 10th file held out)",
    )
    t.add_argument("--init-from", help="fine-tune this model (a folder or vampnet-music); its config is kept")
    t.add_argument("--codec", default="codec-vocos", help="the codec whose codes it models (default codec-vocos)")
    t.add_argument("--codebooks", type=int, default=4, help="codebooks modelled (default 4: 2 kbps)")
    t.add_argument(
        "--conditioning",
        type=int,
        default=0,
        help="coarse-to-fine: the first N codebooks always given (default 0: a coarse model)",
    )
    t.add_argument("--context", type=int, default=256, help="frames per window (default 256: 5.12 s)")
    t.add_argument("--layers", type=int, default=6)
    t.add_argument("--heads", type=int, default=6)
    t.add_argument("--width", type=int, default=192)
    t.add_argument("--dropout", type=float, default=0.0, help="dropout in every block (default 0)")
    t.add_argument("--embedding", choices=["codec", "learned"], default="codec",
                   help="how codes enter: the codec's own code vectors, projected (VampNet's way; the default), or a "
                   "learned table per codebook (the first shipped model's)")  # fmt: skip
    t.add_argument("--tune", action="store_true",
                   help="also read the input's dominant note per frame, which vamp --follow-tune then follows "
                        "(added to a model fine-tuned with --init-from too)")  # fmt: skip
    t.add_argument(
        "--tune-dropout",
        type=float,
        default=0.3,
        help="share of training windows without the tune (so the model also vamps without it)",
    )
    t.add_argument("--batch-size", type=int, default=8)
    common.add_training(t, steps=6000, lr=6e-4, eval_every=500)
    t.set_defaults(func=cmd_train)

    x = vsub.add_parser("vamp", help="vamp on a recording: keep what the prompt says, generate the rest")
    x.add_argument(
        "input", help="a .wav/.flac/.ogg recording (mixed down to mono), or a .codes file of the model's codec"
    )
    common.add_model(x, "vampnet-music")
    x.add_argument("--prompt", action="append", metavar="PROMPT",
                   help="what to keep (repeatable; default periodic:7): periodic:K (every K-th frame), continue:5s, "
                        "suffix:2s, inpaint:10s-14s, codebooks:N (the N coarsest everywhere), beat")  # fmt: skip
    x.add_argument("--steps", type=int, default=24, help="sampling passes (default 24)")
    x.add_argument("--c2f", metavar="MODEL",
                   help="a coarse-to-fine model (trained with vampnet train --conditioning N) that adds the "
                        "codec's finer codebooks")  # fmt: skip
    x.add_argument("--c2f-steps", type=int, default=12, help="its sampling passes (default 12)")
    x.add_argument("--follow-tune", nargs="?", type=float, const=3.0, metavar="WEIGHT",
                   help="lean towards the input's tune: its dominant note per frame conditions every generated "
                        "frame, guided with WEIGHT (default 3; 0: the condition alone, one pass less per step). "
                        "A model trained with --tune, as vampnet-music is")  # fmt: skip
    x.add_argument("--loop", type=int, default=1, help="play the input N times first (a loop that varies)")
    x.add_argument("--typical", type=float, default=0.15, help="typical filtering mass (default 0.15; 1: off)")
    x.add_argument(
        "--mask-temperature",
        type=float,
        default=10.5,
        help="noise on the confidence that picks what to keep (default 10.5, annealed to 0)",
    )
    x.add_argument(
        "--guidance",
        type=float,
        default=1.0,
        help="classifier-free guidance weight (default 1: closer to real music, twice the cost; 0: off)",
    )
    common.add_sampling(x, top_k=False)
    common.add_output(x, "output .wav (or .codes: the vamped codes)")
    x.set_defaults(func=cmd_vamp)
