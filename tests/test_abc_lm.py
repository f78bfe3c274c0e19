"""The ABC language model (MuPT family): cleaning, SMT-ABC, validity checks, a tiny model through the HF API."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from cadenza.cli import main
from cadenza.encodings.base import EncodingError
from cadenza.encodings.smt_abc import from_newline_free, from_smt, split_bars, to_newline_free, to_smt
from cadenza.errors import InputError
from cadenza.evaluate.abc_validity import abc2midi_ok, bar_check, music21_ok, validate_tunes
from cadenza.symbolic import abc_lm
from cadenza.train.loop import TrainConfig

TUNES = [
    "X:1\nR:jig\nM:6/8\nL:1/8\nK:G\n|:GAB cBA|BAG E2D|GAB cBA|B2A G3:|\n|:gfg ege|dBG E2D|GAB cBA|B2A G3:|\n",
    "X:1\nR:reel\nM:4/4\nL:1/8\nK:D\n|:DFAF dFAF|EFGE CEGE|DFAF dfed|cAGE D4:|\n",
    "X:1\nM:3/4\nL:1/4\nK:F\nF G A|B2 A|G F E|F3|\nc c d|c2 A|G F E|F3|]\n",
    "X:1\nR:hornpipe\nM:2/4\nL:1/16\nK:A\nA2cA E2AE|c2ec A2cA|B2dB G2BG|A4 A4|\n",
    "X:1\nM:2/4\nL:1/8\nK:C\nCDEF|G2G2|AGFE|D4|EFGA|B2c2|BAGF|E4|\n",
] * 4

MULTI = """X:1
T:Two voices
M:2/4
L:1/8
K:G
V:1 name="Upper"
|:GABc|d2d2|[1 e2e2:|[2 g4|]
V:2 clef=bass
|:G,2D,2|B,,2G,,2|[1 C2C2:|[2 G,4|]
"""


def test_clean_tune_normalizes_the_header_and_drops_annotations() -> None:
    raw = (
        'X: 12\nT: A title\nN: "Lively"\nR: Double Jig\nM: 6/8\nL: 1/8\nZ: someone\nK:G\n'
        'u"Slow"GAB !trill!c2A | % comment\n\nw: words\nd3 d3 |]\n'
    )
    clean = abc_lm.clean_tune(raw)
    assert clean == "X:1\nR:jig\nM:6/8\nL:1/8\nK:G\nGAB c2A |\nd3 d3 |]\n"
    assert abc_lm.clean_tune("X:1\nT:no key\nabc|\n") is None
    assert abc_lm.header_prompt(meter="6/8", key="D", rhythm="Slip Jig") == "X:1\nR:slip jig\nM:6/8\nK:D\n"


def test_smt_abc_round_trips() -> None:
    smt = to_smt(MULTI)
    lines = smt.splitlines()
    assert lines[lines.index("K:G") + 1] == "<|>[V:1]|:GABc|[V:2]|:G,2D,2|<|>"  # bar 1 of both voices together
    assert sum(ln.startswith("<|>") for ln in lines) == 4
    back = from_smt(smt)
    assert to_smt(back) == smt

    from music21 import converter

    def notes(text: str) -> list[list[tuple[str, float, float]]]:
        score = converter.parse(text, format="abc")
        return [
            [(str(n.pitch), float(n.offset), float(n.quarterLength)) for n in p.flatten().notes] for p in score.parts
        ]

    assert notes(back) == notes(MULTI) and len(notes(MULTI)) == 2
    one_line = to_newline_free(smt)
    assert "\n" not in one_line and from_newline_free(one_line) == smt
    assert split_bars("|:ab|cd:|[1 ef|") == ["|:ab|", "cd:|", "[1 ef|"]
    with pytest.raises(EncodingError):
        to_smt("X:1\nM:2/4\nabc|\n")


def test_validity_checks_catch_what_they_should() -> None:
    good = TUNES[2]
    assert music21_ok(good)[0] and abc2midi_ok(good)[0]
    assert bar_check(good) == (6, 6)
    short = good.replace("B2 A|", "B A|")  # bar 2 one beat short
    assert bar_check(short) == (5, 6)
    broken = "X:1\nM:3/4\nL:1/4\nK:Fxx\nF G A|B2 A|\n"
    ok, err = abc2midi_ok(broken)
    assert not ok and "Error" in err
    report = validate_tunes([good, short, broken])
    assert report["tunes"] == 3 and report["valid_abc2midi"] == pytest.approx(2 / 3)
    assert 0 < report["bars_correct"] < 1


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random MuPT-style checkpoint: LlamaForCausalLM config + safetensors + tokenizer files."""
    from transformers import LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-mupt")
    tok = abc_lm.train_tokenizer(TUNES, vocab_size=300)
    cfg = abc_lm.ABCLMConfig(hidden=32, n_layer=2, n_head=2, intermediate=64, context=128)
    torch.manual_seed(0)
    model = LlamaForCausalLM(abc_lm.llama_config(cfg, tok))
    # embeddings (tied to the output) of unit scale: with the default std of 0.02 a frozen embedding caps every
    # logit near 0, and adapters could not move the predictions away from uniform
    torch.nn.init.normal_(model.get_input_embeddings().weight, std=1.0)
    abc_lm.save_abc_lm(model, tok, folder)
    return folder


def test_tokenizer_has_mupt_ids_and_round_trips(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert (tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    for t in TUNES[:5]:
        ids = abc_lm.tune_ids(tok, t)
        assert ids[0] == 2 and ids[-1] == 3
        assert tok.decode(ids, skip_special_tokens=True) == t
    assert len(abc_lm.tune_ids(tok, TUNES[0])) < len(TUNES[0])  # BPE merges: fewer tokens than characters
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.bos_token_id == 2


def test_generation_is_seeded_and_keeps_the_prompt(tiny_model: Path) -> None:
    lm = abc_lm.ABCLanguageModel.from_pretrained(tiny_model)
    prompt = abc_lm.header_prompt(meter="6/8", key="G")
    a = lm.generate(prompt=prompt, n=3, max_new_tokens=20, seed=4)
    b = abc_lm.generate_abc(lm.model, lm.tokenizer, prompt=prompt, n=3, max_new_tokens=20, seed=4)
    assert a == b and len(a) == 3 and all(t.startswith(prompt) for t in a)


def test_model_directory_errors(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no config.json"):
        abc_lm.load_abc_lm(tmp_path)
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]}))
    with pytest.raises(InputError, match="not a causal language model"):
        abc_lm.load_abc_lm(bert)
    mismatch = tmp_path / "mismatch"
    mismatch.mkdir()
    for f in tiny_model.iterdir():
        (mismatch / f.name).write_bytes(f.read_bytes())
    config = json.loads((mismatch / "config.json").read_text())
    config["vocab_size"] = 100
    (mismatch / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="do not belong together"):
        abc_lm.load_abc_lm(mismatch)
    config["vocab_size"] = 400  # a vocabulary that fits the tokenizer, weights of another shape
    (mismatch / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="cannot be loaded"):
        abc_lm.load_abc_lm(mismatch)


def test_lora_finetuning_lowers_the_nll_of_its_tunes(tiny_model: Path, tmp_path: Path) -> None:
    model, tok = abc_lm.load_abc_lm(tiny_model)
    tunes = TUNES[:5]
    before = abc_lm.tune_nll(model, tok, tunes)["nll"]
    tc = TrainConfig(max_steps=80, lr=3e-2, warmup_steps=2, eval_every=80, checkpoint_every=80, log_every=10)
    tuned = abc_lm.finetune(model, tok, tunes, tc, tmp_path, rank=8, context=64, batch_size=4, progress=False)
    assert type(tuned).__name__ == "PeftModelForCausalLM"
    after = abc_lm.tune_nll(tuned, tok, tunes)["nll"]
    assert after < 0.85 * before and math.isfinite(after)
    trainable = sum(p.numel() for p in tuned.parameters() if p.requires_grad)
    assert trainable < 0.5 * sum(p.numel() for p in tuned.parameters())  # only the adapters learn


def test_training_a_tiny_model_end_to_end(tmp_path: Path) -> None:
    cfg = abc_lm.ABCLMConfig(vocab_size=300, hidden=32, n_layer=1, n_head=2, intermediate=64, context=64,
                             batch_size=4)  # fmt: skip
    tc = TrainConfig(max_steps=30, lr=3e-3, warmup_steps=3, eval_every=30, checkpoint_every=30, log_every=10)
    model, tok, figures = abc_lm.train_abc_lm(cfg, tc, tmp_path, progress=False, limit=40)
    assert figures["valid_nll"] < math.log(len(tok)) and figures["train_tunes"] > 50
    resumed = replace(tc, max_steps=35)
    _, _, again = abc_lm.train_abc_lm(cfg, resumed, tmp_path, progress=False, limit=40, new_segment=True)
    assert again["steps"] == 35  # went on from the step-30 checkpoint, as a second segment


def test_open_repeat_guard_masks_every_ending(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    prompt = "X:1\nM:6/8\nL:1/8\nK:D\n"

    def masked(body: str) -> torch.Tensor:
        guard = abc_lm.OpenRepeatGuard(tok, prompt, batch=1)
        start = [tok.bos_token_id, *tok.encode(prompt, add_special_tokens=False)]
        guard(torch.tensor([start]), torch.zeros(1, len(tok)))
        ids = start + tok.encode(body, add_special_tokens=False)
        return torch.isinf(guard(torch.tensor([ids]), torch.zeros(1, len(tok)))[0])

    eos = tok.eos_token_id
    assert masked("|: DFA dfe | d3 d2A |")[eos]  # an open repeat may not end
    ends = masked("|: DFA dfe | d3 d2A |")
    assert all(ends[i] for i in range(len(tok)) if "|]" in tok.decode([i]))
    assert not masked("|: DFA dfe | d3 d2A :|")[eos]  # closed
    assert not masked("DFA dfe | d3 d2A :|")[eos]  # a first part closes a repeat it never opened
    assert masked("DFA dfe :|: d3 d2A |")[eos]  # :|: closes one and opens the next
    assert not masked("DFA dfe | d3 d2A |")[eos]  # no repeat at all


def test_abc_cli(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_cli import assert_user_error, run

    out = tmp_path / "gen"
    assert main(["abc-lm", "generate", "--model", str(tiny_model), "--n", "2", "--max-tokens", "10", "--no-audio",
                 "--meter", "6/8", "-o", str(out)]) == 0  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["tune_001.abc", "tune_002.abc"]
    first = capsys.readouterr().out
    # --valid-only draws again (same seed, so the same first draw) in place of exactly the invalid tunes
    assert main(["abc-lm", "generate", "--model", str(tiny_model), "--n", "2", "--max-tokens", "10", "--no-audio",
                 "--meter", "6/8", "--valid-only", "1", "-o", str(tmp_path / "again")]) == 0  # fmt: skip
    again = capsys.readouterr().out
    n_invalid = first.count(": invalid (")
    assert (f"drew {n_invalid} tunes again" in again) if n_invalid else ("drew" not in again)
    assert len(list((tmp_path / "again").glob("*.abc"))) == 2
    assert main(["abc-lm", "validate", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tunes"] == 2 and set(report) >= {"valid_music21", "valid_abc2midi", "bars_correct"}
    assert_user_error(run("abc-lm", "generate", "--model", str(tiny_model), "--prompt", "M:6/8", "-o", str(out)), "X:")
    assert_user_error(run("abc-lm", "generate", "--model", str(tmp_path), "-o", str(out)), "config.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.abc").write_text("no tunes here\n")
    ft = tmp_path / "ft"
    assert_user_error(run("abc-lm", "finetune", "--model", str(tiny_model), "--data", str(empty), "-o", str(ft)),
                      "no usable ABC tunes")  # fmt: skip
    assert not ft.exists()  # nothing half-written
    smt = tmp_path / "multi.abc"
    smt.write_text(MULTI)
    assert main(["abc-lm", "smt", str(smt)]) == 0
    assert "<|>[V:1]" in capsys.readouterr().out
