"""Demo section: The ABC language model (MuPT family) through Hugging Face transformers."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section, score_item


def build(out_dir: Path) -> Section:
    from cadenza.evaluate.abc_validity import validate_tune
    from cadenza.io.abc import parse_abc_tune
    from cadenza.symbolic.abc_lm import ABCLanguageModel, header_prompt

    lm = ABCLanguageModel.from_pretrained()
    prompts = [
        ("A reel (R:reel, M:4/4, K:D)", header_prompt(rhythm="reel", meter="4/4", unit="1/8", key="D"), 3),
        ("A German folk song (M:3/4, K:F)", header_prompt(meter="3/4", unit="1/8", key="F"), 4),
        ("A hornpipe (R:hornpipe, M:2/4, K:G)", header_prompt(rhythm="hornpipe", meter="2/4", unit="1/16", key="G"), 2),
    ]  # fmt: skip
    items = []
    for i, (title, prompt, seed) in enumerate(prompts):
        text = lm.generate(prompt=prompt, n=1, temperature=0.7, top_p=0.95, seed=seed)[0]
        check = validate_tune(text)
        valid = check["music21"] and check["abc2midi"]
        if valid:
            item = score_item(parse_abc_tune(text), out_dir, f"abc_lm_{i}", title=title, program=73)
        else:
            item = Item(
                title, note="this sample does not parse: " + (check["music21_error"] or check["abc2midi_error"])
            )
        item.text = text
        items.append(item)
    return Section(
        "An ABC language model (MuPT family) through Hugging Face transformers",
        "A LlamaForCausalLM with a byte-level BPE, trained here on the Essen and Irish ABC collections "
        f"(valid {lm.figures['valid_bits_per_char']:.3f} bits per character), sampled from header "
        "prompts at temperature 0.7 (BENCHMARKS.md gives the share of valid samples; the seeds here were chosen "
        "among valid ones). "
        "`cadenza abc-lm generate --rhythm reel --meter 4/4 --key D -o out/tunes`; "
        "`cadenza abc-lm finetune --data FOLDER -o OUT` adapts it with LoRA.",
        items,
    )
