"""`cadenza abc-lm train | generate | validate | finetune | smt`: the ABC-notation language model of the MuPT
family, through Hugging Face transformers."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.symbolic.abc_lm import CARD, ABCLanguageModel, ABCLMConfig, train_abc_lm

    cfg = ABCLMConfig(
        vocab_size=args.vocab, hidden=args.width, n_layer=args.layers, n_head=args.heads,
        intermediate=args.intermediate, context=args.context, batch_size=args.batch_size,
        exclude_jigs=not args.with_jigs,
    )  # fmt: skip
    model, tok, figures = train_abc_lm(cfg, common.train_config(args), args.output, limit=args.limit,
                                       new_segment=args.new_segment)  # fmt: skip
    from cadenza.train.checkpoint import checkpoint_state, latest_checkpoint

    ckpt = latest_checkpoint(Path(args.output) / "run")
    lm = ABCLanguageModel(model, tok)
    lm.extra["segments"] = checkpoint_state(ckpt).get("segments", []) if ckpt else []
    jigs = "the Irish 6/8 tunes (jigs) left out, the style for the fine-tuning test" if cfg.exclude_jigs else \
        "jigs included"  # fmt: skip
    print(f"valid NLL {figures['valid_nll']:.4f} nats per token, {figures['valid_bits_per_char']:.3f} bits per char")
    common.save_trained(lm, args, figures, CARD, vocab=len(tok), jigs=jigs, config=json.dumps(asdict(cfg)))
    print(f"(and {args.output}/tokenizer.json, figures.json, README.md: a Hugging Face model folder)")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from cadenza.evaluate.abc_validity import validate_tune
    from cadenza.io.abc import parse_abc_tune
    from cadenza.symbolic.abc_lm import ABCLanguageModel, check_prompt, header_prompt

    if args.prompt and any((args.meter, args.key, args.unit, args.rhythm)):
        raise InputError("--prompt", "give a prompt or header fields (--meter/--key/--unit/--rhythm), not both")
    if args.continue_file:
        from cadenza.io.abc import _read_text, split_tunes
        from cadenza.symbolic.abc_lm import clean_tune

        tunes = split_tunes(_read_text(Path(args.continue_file)))
        tune = clean_tune(tunes[0]) if tunes else None
        if tune is None:
            raise InputError(args.continue_file, "has no ABC tune with a K: field and a body to continue")
        lines = tune.splitlines()
        k = next(i for i, ln in enumerate(lines) if ln.startswith("K:"))
        prompt = "\n".join(lines[: k + 1 + args.continue_lines]) + "\n"
    elif args.prompt:
        prompt = args.prompt.replace("\\n", "\n")
    else:
        prompt = header_prompt(meter=args.meter, key=args.key, unit=args.unit, rhythm=args.rhythm)
    prompt = check_prompt(prompt, args.continue_file or "--prompt")
    common.set_threads(args)
    lm = ABCLanguageModel.from_pretrained(args.model, trust_remote_code=args.trust_remote_code)

    def draw(n: int, seed: int) -> list[str]:
        return lm.generate(prompt=prompt, n=n, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                           max_new_tokens=args.max_tokens, seed=seed)  # fmt: skip

    def is_valid(check: dict) -> bool:
        return bool(check["music21"] and check["abc2midi"])

    t0 = time.perf_counter()
    texts = draw(args.n, args.seed)
    checks = [validate_tune(t) for t in texts]
    redrawn = 0
    for round_ in range(1, args.valid_only + 1):  # draw again in place of the invalid ones
        bad = [i for i, c in enumerate(checks) if not is_valid(c)]
        if not bad:
            break
        redrawn += len(bad)
        for i, text in zip(bad, draw(len(bad), args.seed + 1000 * round_), strict=True):
            texts[i], checks[i] = text, validate_tune(text)
    seconds = time.perf_counter() - t0
    if redrawn:
        print(f"drew {redrawn} tunes again in place of invalid ones (--valid-only {args.valid_only})")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    n_valid = 0
    for i, (text, check) in enumerate(zip(texts, checks, strict=True)):
        stem = out / f"tune_{i + 1:03d}"
        stem.with_suffix(".abc").write_text(text)
        ok = is_valid(check)
        n_valid += ok
        if ok and not args.no_audio:
            common.write_outputs(parse_abc_tune(text, source=str(stem.with_suffix(".abc"))), str(stem))
        if not ok:
            print(f"  {stem.name}: invalid ({check['music21_error'] or check['abc2midi_error']})")
    print(f"{len(texts)} tunes in {seconds:.1f} s, {n_valid} valid (music21 and abc2midi); wrote {out}/tune_*.abc"
          + ("" if args.no_audio else " (+ .mid, .xml, .wav for the valid ones)"))  # fmt: skip
    if args.n == 1 and not args.quiet:
        print(texts[0], end="")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from cadenza.evaluate.abc_validity import validate_tunes
    from cadenza.io.abc import _read_text, split_tunes

    texts: list[str] = []
    for f in args.files:
        p = Path(f)
        files = sorted(p.glob("*.abc")) if p.is_dir() else [p]
        for g in files:
            if not g.is_file():
                raise InputError(str(g), "does not exist")
            try:
                texts += [t for t in split_tunes(_read_text(g)) if t.lstrip().startswith("X:")]
            except UnicodeDecodeError:
                raise InputError(str(g), "is not a text file") from None
    if not texts:
        raise InputError(" ".join(args.files), "has no ABC tunes (no X: line)")
    report = validate_tunes(texts, progress=not args.json)
    if common.print_json(args, {k: v for k, v in report.items() if k != "results" or args.details}):
        return 0
    print(f"{report['tunes']} tunes: music21 {report['valid_music21']:.1%}, abc2midi {report['valid_abc2midi']:.1%}, "
          f"both {report['valid']:.1%}; bars with the right duration {report['bars_correct']:.1%} "
          f"of {report['bars']}")  # fmt: skip
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    from cadenza.symbolic.abc_lm import (
        finetune,
        finetune_defaults,
        load_abc_lm,
        read_tune_folder,
        save_abc_lm,
        tune_nll,
    )
    from cadenza.train.loop import TrainConfig

    tunes = read_tune_folder(args.data)
    held = read_tune_folder(args.eval) if args.eval else []
    if not held:
        n_held = max(1, len(tunes) // 5)
        if len(tunes) < 2:
            raise InputError(args.data, "needs at least 2 tunes (some are held out), or give --eval FOLDER")
        tunes, held = tunes[:-n_held], tunes[-n_held:]
    model, tok = load_abc_lm(args.model, trust_remote_code=args.trust_remote_code)
    before = tune_nll(model, tok, held)
    print(f"{len(tunes)} tunes to learn, {len(held)} held out; held-out NLL before: {before['nll']:.4f} nats per "
          "token")  # fmt: skip
    default_steps, default_lr = finetune_defaults(lora=not args.full)
    steps = args.steps or default_steps
    tc = TrainConfig(max_steps=steps, lr=args.lr or default_lr, warmup_steps=min(20, steps // 10),
                     eval_every=max(steps, 1), checkpoint_every=max(steps // 4, 1), seed=args.seed,
                     threads=args.threads)  # fmt: skip
    t0 = time.perf_counter()
    tuned = finetune(model, tok, tunes, tc, args.output, lora=not args.full, rank=args.rank,
                     batch_size=args.batch_size)  # fmt: skip
    seconds = time.perf_counter() - t0
    after = tune_nll(tuned, tok, held)
    drop = 1 - after["nll"] / before["nll"]
    if not args.full and not args.adapter_only:
        tuned = tuned.merge_and_unload()
    if args.full or not args.adapter_only:
        save_abc_lm(tuned, tok, args.output)
    else:
        tuned.save_pretrained(args.output)
        tok.save_pretrained(args.output)
    figures = {"held_out_nll_before": before["nll"], "held_out_nll_after": after["nll"], "drop": drop,
               "train_tunes": len(tunes), "held_out_tunes": len(held), "seconds": seconds,
               "method": "full" if args.full else f"lora r={args.rank}"}  # fmt: skip
    (Path(args.output) / "finetune.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"held-out NLL after: {after['nll']:.4f} nats per token ({drop:.1%} lower) in {seconds / 60:.1f} min")
    kind = "adapter" if args.adapter_only and not args.full else "model"
    print(f"wrote the {kind} to {args.output}")
    return 0


def cmd_smt(args: argparse.Namespace) -> int:
    from cadenza.encodings.base import EncodingError
    from cadenza.encodings.smt_abc import from_smt, to_newline_free, to_smt
    from cadenza.io.abc import _read_text

    text = _read_text(Path(args.file))
    try:
        out = from_smt(text) if args.reverse else to_smt(text)
    except EncodingError as e:
        raise InputError(args.file, str(e)) from None
    print(to_newline_free(out) if args.newline_free else out, end="" if not args.newline_free else "\n")
    return 0


def register(sub: Any) -> None:
    abc = sub.add_parser("abc-lm", help="the ABC-notation language model (MuPT family, HF transformers)")
    asub = abc.add_subparsers(dest="abc_command", required=True, metavar="ACTION")

    t = asub.add_parser("train", help="train the tokenizer and a small LlamaForCausalLM on the corpus ABC")
    t.add_argument("--vocab", type=int, default=2048)
    t.add_argument("--width", type=int, default=256)
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--heads", type=int, default=8)
    t.add_argument("--intermediate", type=int, default=704)
    t.add_argument("--context", type=int, default=256)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--with-jigs", action="store_true", help="keep the Irish 6/8 tunes (left out by default)")
    t.add_argument("--limit", type=int, help="first N tunes of each collection (a quick trial)")
    common.add_training(t, steps=1000, lr=3e-3, eval_every=200)
    t.set_defaults(func=cmd_train)

    g = asub.add_parser("generate", help="sample ABC tunes (+ MIDI, MusicXML, WAV)")
    common.add_model(g, "abc-lm")
    g.add_argument("--prompt", help='ABC to continue, e.g. "X:1\\nM:6/8\\nK:D\\n" (default: X:1)')
    g.add_argument("--meter", help="header field M, e.g. 6/8")
    g.add_argument("--key", help="header field K, e.g. D or Ador")
    g.add_argument("--unit", help="header field L, e.g. 1/8")
    g.add_argument("--rhythm", help="header field R (tune type), e.g. reel, hornpipe, jig")
    g.add_argument("--continue", dest="continue_file", help="an ABC file whose first tune's opening to continue")
    g.add_argument("--continue-lines", type=int, default=1, help="body lines of --continue kept (default 1)")
    g.add_argument("--n", type=int, default=4)
    common.add_sampling(g, temperature=0.7, top_p=0.95)
    g.add_argument("--max-tokens", type=int, default=600)
    g.add_argument(
        "--valid-only",
        type=int,
        nargs="?",
        const=4,
        default=0,
        metavar="ROUNDS",
        help="draw again in place of tunes that music21 or abc2midi reject, up to ROUNDS times",
    )
    g.add_argument("--no-audio", action="store_true", help="write the .abc files only")
    g.add_argument("--quiet", action="store_true")
    g.add_argument("--trust-remote-code", action="store_true", help="allow a checkpoint's own tokenizer code")
    common.add_output(g, "output folder")
    g.set_defaults(func=cmd_generate)

    v = asub.add_parser("validate", help="check ABC files with music21 and abc2midi, and their bar durations")
    v.add_argument("files", nargs="+", help="ABC files or folders of them")
    common.add_json(v)
    v.add_argument("--details", action="store_true", help="with --json: every tune's result")
    v.set_defaults(func=cmd_validate)

    f = asub.add_parser("finetune", help="fine-tune a model on a folder of tunes (LoRA by default)")
    common.add_model(f, "abc-lm")
    f.add_argument("--data", required=True, help="folder of .abc files to learn")
    f.add_argument("--eval", help="folder of held-out .abc tunes (default: the last fifth of --data)")
    f.add_argument("--full", action="store_true", help="train every weight instead of LoRA adapters")
    f.add_argument("--adapter-only", action="store_true", help="save the LoRA adapter, not a merged model")
    f.add_argument("--rank", type=int, default=16)
    f.add_argument("--steps", type=int, help="steps of 8 x 256 tokens (default 30 with LoRA, 40 with --full)")
    f.add_argument("--lr", type=float, help="learning rate (default 3e-3 with LoRA, 3e-4 with --full)")
    f.add_argument("--batch-size", type=int, default=8)
    f.add_argument("--threads", type=int, default=0)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--trust-remote-code", action="store_true")
    common.add_output(f, "output directory")
    f.set_defaults(func=cmd_finetune)

    s = asub.add_parser("smt", help="convert multi-voice ABC to MuPT's SMT-ABC (or back with --reverse)")
    s.add_argument("file")
    s.add_argument("--reverse", action="store_true", help="SMT-ABC -> multi-voice ABC")
    s.add_argument("--newline-free", action="store_true", help="write on one line with <n> for newlines")
    s.set_defaults(func=cmd_smt)
