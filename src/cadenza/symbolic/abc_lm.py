"""An ABC-notation language model of the MuPT family, through Hugging Face transformers.

MuPT (m-a-p, 2024) is a LLaMA-style causal LM over ABC text (bos 2, eos 3, pad 0). The Hub is out of reach
offline, so cadenza trains a small model of the same family here and works with any local checkpoint directory
of that family (`LlamaForCausalLM` config + safetensors + tokenizer files):

1. tokenizer: a byte-level BPE trained with HF `tokenizers` on the corpus ABC, saved as a
   `PreTrainedTokenizerFast` so that `AutoTokenizer.from_pretrained(dir)` loads it;
2. model: `LlamaForCausalLM` from a `LlamaConfig`, trained with the project's loop on packed windows of
   tunes, saved with `save_pretrained` (`AutoModelForCausalLM.from_pretrained(dir)` works offline);
3. generation: `model.generate` with the KV cache, from a header prompt ("X:1\\nM:6/8\\nK:D\\n") or a
   tune's opening;
4. fine-tuning: LoRA adapters with peft (or all weights), held-out NLL before and after.

Tunes are normalized before training (`clean_tune`): the header keeps X (renumbered 1), R (the tune type,
Irish collections only, in lower case), M, L and K, in that order; titles, notes, sources, lyrics and comments
go. A tune is `<s>` + its text + `</s>`.

    >>> lm = ABCLanguageModel.from_pretrained()               # the shipped models/abc-lm
    >>> texts = lm.generate(prompt="X:1\\nR:jig\\nM:6/8\\nL:1/8\\nK:G\\n", n=2, seed=0)
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from cadenza.errors import InputError
from cadenza.io.files import write_text_atomic
from cadenza.nn.lm import lm_loss, sliding_nll
from cadenza.pretrained import TRAINING_BLOCK
from cadenza.train.data import Windows
from cadenza.train.loop import TrainConfig

KIND = "abc-lm"
SHIPPED = "abc-lm"
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"  # ids 0, 1, 2, 3 as MuPT
SOURCES = {"essen": "essenFolksong", "oneills": "oneills1850", "ryans": "ryansMammoth", "airds": "airdsAirs"}
IRISH = ("oneills", "ryans", "airds")
HEADER_ORDER = ("X", "R", "M", "L", "K")
_RHYTHMS = {"double jig": "jig", "single jig": "jig", "slipjig": "slip jig", "set dance": "set dance"}


# ------------------------------------------------------------------------------------------------ corpus text


def normalize_rhythm(value: str) -> str:
    r = " ".join(value.lower().replace('"', "").split())
    return _RHYTHMS.get(r, r)


def clean_body(line: str) -> str:
    """A body line without text annotations and fingerings in quotes, bowings (u, v), !decorations! and old
    line-break marks (!): what abc2midi rejects in the 19th-century books, none of it pitch or rhythm."""
    line = re.sub(r'"[^"]*"?', "", line)
    line = re.sub(r"![^!|\s]*!", "", line).replace("!", "")
    line = re.sub(r"[uv]", "", line)
    return " ".join(line.split())


def clean_tune(text: str, *, keep_rhythm: bool = True) -> str | None:
    """The tune with a normalized header (X:1, R, M, L, K) and its body without comments, lyrics, annotations
    (`clean_body`) or blank lines; None when it has no K: field or no body."""
    header: dict[str, str] = {}
    body: list[str] = []
    in_body = False
    for raw in text.splitlines():
        line = raw.split("%", 1)[0].rstrip() if not raw.startswith("%%") else ""
        if not line.strip():
            continue
        m = re.match(r"^([A-Za-z]):\s*(.*)$", line)
        if m and not (in_body and m.group(1) in "|"):
            field, value = m.group(1), m.group(2).strip()
            if not in_body:
                if field in ("M", "L", "K") or (field == "R" and keep_rhythm):
                    header[field] = normalize_rhythm(value) if field == "R" else value
                if field == "K":
                    in_body = True
                continue
            if field in ("w", "W", "N", "Z", "S", "H", "T", "O", "B", "C", "D", "F", "G", "A"):
                continue  # lyrics and annotations inside the body
            if field in ("M", "L", "K"):
                body.append(f"{field}:{value}")  # a change of meter, unit or key mid-tune
            continue
        if in_body and (cleaned := clean_body(line)):
            body.append(cleaned)
    if "K" not in header or not body:
        return None
    header["X"] = "1"
    head = "".join(f"{f}:{header[f]}\n" for f in HEADER_ORDER if f in header)
    return head + "\n".join(body) + "\n"


def source_tunes(source: str) -> list[tuple[str, str]]:
    """(piece id, raw tune text) of every tune of a named ABC collection (essen, oneills, ryans, airds)."""
    from cadenza.corpus import music21_corpus_dir
    from cadenza.io.abc import _read_text, split_tunes

    if source not in SOURCES:
        raise InputError("--corpus", f"unknown ABC collection {source!r}; one of {', '.join(SOURCES)}")
    out = []
    for f in sorted((music21_corpus_dir() / SOURCES[source]).glob("*.abc")):
        for i, tune in enumerate(split_tunes(_read_text(f))):
            out.append((f"{source}/{f.stem}#{i}", tune))
    return out


def meter_of(tune: str) -> str:
    m = re.search(r"(?m)^M:\s*(\S+)", tune)
    return m.group(1) if m else ""


def is_irish_jig(source: str, tune: str) -> bool:
    """The style the shipped base model never sees: 6/8 tunes of the Irish collections (jigs)."""
    return source in IRISH and meter_of(tune) == "6/8"


def split_of(piece_id: str) -> str:
    """train / valid / test by a hash of the piece id (90 / 5 / 5), stable across runs and machines."""
    h = zlib.crc32(piece_id.encode()) % 100
    return "valid" if h < 5 else "test" if h < 10 else "train"


def corpus_texts(
    sources: Sequence[str] = tuple(SOURCES),
    *,
    exclude_jigs: bool = False,
    valid_only: bool = True,
    limit: int | None = None,
) -> dict[str, list[str]]:
    """Cleaned tunes of the collections by split; with `exclude_jigs` the Irish 6/8 tunes are left out; with
    `valid_only` only tunes that abc2midi accepts (a third of the Irish books fails it: broken rhythms across
    bars, ties to nothing, hornpipes in 3/2): the model should not learn what the checker rejects."""
    from concurrent.futures import ThreadPoolExecutor

    from cadenza.evaluate.abc_validity import abc2midi_ok

    items: list[tuple[str, str]] = []
    for source in sources:
        for piece_id, raw in source_tunes(source)[:limit]:
            if exclude_jigs and is_irish_jig(source, raw):
                continue
            tune = clean_tune(raw, keep_rhythm=source in IRISH)
            if tune is not None:
                items.append((piece_id, tune))
    if valid_only:
        with ThreadPoolExecutor(4) as pool:  # abc2midi runs as a subprocess: threads overlap them
            ok = list(pool.map(lambda it: abc2midi_ok(it[1])[0], items))
        items = [it for it, good in zip(items, ok, strict=True) if good]
    out: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for piece_id, tune in items:
        out[split_of(piece_id)].append(tune)
    return out


def jig_texts(source: str = "oneills", *, valid_only: bool = True) -> list[str]:
    """The cleaned 6/8 tunes of an Irish collection in book order (the fine-tuning style), those abc2midi
    accepts when `valid_only`."""
    from cadenza.evaluate.abc_validity import abc2midi_ok

    tunes = [t for _, raw in source_tunes(source) if is_irish_jig(source, raw) and (t := clean_tune(raw))]
    return [t for t in tunes if not valid_only or abc2midi_ok(t)[0]]


def read_tune_folder(folder: str | Path) -> list[str]:
    """Cleaned tunes of every .abc file in a folder (or one file).

    Raises:
        InputError: no such folder, or no tune with a K: field in it.
    """
    from cadenza.io.abc import _read_text, split_tunes

    p = Path(folder)
    if not p.exists():
        raise InputError(str(p), "does not exist")
    files = sorted(p.rglob("*.abc")) if p.is_dir() else [p]
    tunes = [t for f in files for raw in split_tunes(_read_text(f)) if (t := clean_tune(raw))]
    if not tunes:
        raise InputError(str(p), "has no usable ABC tunes (.abc files with X: and K: fields and a body)")
    return tunes


# ------------------------------------------------------------------------------------------------ tokenizer


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048) -> Any:
    """A byte-level BPE over ABC lines (merges never cross a newline), as a `PreTrainedTokenizerFast` with
    MuPT's special ids: <pad> 0, <unk> 1, <s> 2, </s> 3."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r"\n"), behavior="isolated"),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )  # fmt: skip
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[PAD, UNK, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )  # fmt: skip
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        clean_up_tokenization_spaces=False,
    )


def tune_ids(tokenizer: Any, tune: str) -> list[int]:
    return [tokenizer.bos_token_id, *tokenizer.encode(tune, add_special_tokens=False), tokenizer.eos_token_id]


# ------------------------------------------------------------------------------------------------ model


@dataclass(frozen=True)
class ABCLMConfig:
    vocab_size: int = 2048
    hidden: int = 256
    n_layer: int = 4
    n_head: int = 8
    intermediate: int = 704
    context: int = 256
    batch_size: int = 16
    exclude_jigs: bool = True  # the shipped base model leaves the Irish 6/8 tunes out (for the fine-tuning test)


def llama_config(cfg: ABCLMConfig, tokenizer: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden, intermediate_size=cfg.intermediate,
        num_hidden_layers=cfg.n_layer, num_attention_heads=cfg.n_head, num_key_value_heads=cfg.n_head,
        max_position_embeddings=max(cfg.context, 2048), rms_norm_eps=1e-5, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip


def packed_windows(seqs: list[list[int]], context: int, batch_size: int, seed: int = 0) -> Windows:
    """Random windows of `context` tokens over tunes packed end to end (each `<s> ... </s>`): batch["x"] and
    batch["y"] hold its first and last `context - 1` tokens."""
    return Windows([t for s in seqs for t in s], context - 1, batch_size, seed)


@torch.no_grad()
def tune_nll(model: Any, tokenizer: Any, tunes: Sequence[str], context: int = 512) -> dict[str, float]:
    """NLL of whole tunes, each read from <s> and scored up to its </s> (sliding windows of `context` tokens
    past the context): nats per token, bits per character."""
    model.eval()
    total = n_tok = n_char = 0.0
    for tune in tunes:
        ids = tune_ids(tokenizer, tune)
        t, c = sliding_nll(model, ids, context=context)
        total, n_tok, n_char = total + t, n_tok + c, n_char + len(tune) + 1  # the characters and the end
    return {"nll": total / max(n_tok, 1), "bits_per_char": total / math.log(2) / max(n_char, 1), "tokens": n_tok}


def train_abc_lm(
    cfg: ABCLMConfig,
    train_cfg: TrainConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    limit: int | None = None,
    new_segment: bool = False,
) -> tuple[Any, Any, dict[str, Any]]:
    """Tokenizer + LlamaForCausalLM trained on the collections' train split; figures on the valid split."""
    from transformers import LlamaForCausalLM

    from cadenza.train.loop import train

    texts = corpus_texts(exclude_jigs=cfg.exclude_jigs, limit=limit)
    tokenizer = train_tokenizer(texts["train"], cfg.vocab_size)
    torch.manual_seed(train_cfg.seed)
    model = LlamaForCausalLM(llama_config(cfg, tokenizer))
    data = packed_windows([tune_ids(tokenizer, t) for t in texts["train"]], cfg.context, cfg.batch_size,
                          seed=train_cfg.seed)  # fmt: skip
    valid = texts["valid"]

    def eval_fn(m: torch.nn.Module) -> dict[str, float]:
        return {"valid/nll": tune_nll(m, tokenizer, valid[:100], cfg.context)["nll"]}

    result = train(
        model, data, lm_loss, train_cfg, out_dir=Path(out_dir) / "run", eval_fn=eval_fn,
        model_config={"abc_lm": asdict(cfg)}, progress=progress, tokens_per_batch=cfg.context * cfg.batch_size,
        new_segment=new_segment,
    )  # fmt: skip
    model.eval()
    v = tune_nll(model, tokenizer, valid, cfg.context)
    figures = {
        "valid_nll": v["nll"], "valid_bits_per_char": v["bits_per_char"], "train_tunes": len(texts["train"]),
        "train_tokens": int(data.tokens.numel()), "train_seconds": result.seconds, "steps": result.step,
    }  # fmt: skip
    return model, tokenizer, figures


def save_abc_lm(model: Any, tokenizer: Any, out_dir: str | Path, card: str = "") -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    if card:
        (out / "README.md").write_text(card)


def load_abc_lm(path: str | Path | None = None, *, trust_remote_code: bool = False) -> tuple[Any, Any]:
    """A causal LM and its tokenizer from a local directory (default: the shipped models/abc-lm).

    Raises:
        InputError: not a directory, not a causal LM, no tokenizer, or a tokenizer larger than the model's
            vocabulary.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from cadenza.pretrained import resolve

    folder = resolve(path or SHIPPED)
    if not (folder / "config.json").is_file():
        raise InputError(str(folder), "is not a model directory (no config.json)")
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=trust_remote_code)
    except (ValueError, OSError) as e:
        raise InputError(str(folder), f"config.json is not a transformers config: {str(e).splitlines()[0]}") from None
    archs = getattr(config, "architectures", None) or []
    if archs and not any(a.endswith("ForCausalLM") for a in archs):
        raise InputError(str(folder), f"is a {', '.join(archs)}, not a causal language model")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=trust_remote_code)
    except (ValueError, OSError) as e:
        hint = " (a remote-code tokenizer needs --trust-remote-code)" if "remote code" in str(e) else ""
        raise InputError(str(folder), f"has no usable tokenizer{hint}: {str(e).splitlines()[0]}") from None
    vocab = getattr(config, "vocab_size", None)
    if vocab is not None and len(tokenizer) > vocab:
        raise InputError(str(folder), f"the tokenizer has {len(tokenizer)} tokens but the model's vocabulary is "
                         f"{vocab}: they do not belong together")  # fmt: skip
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, trust_remote_code=trust_remote_code)
    except (ValueError, OSError, KeyError, RuntimeError) as e:
        raise InputError(str(folder), f"cannot be loaded as a causal LM: {str(e).splitlines()[0]}") from None
    n_embed = int(model.get_input_embeddings().weight.shape[0])  # type: ignore[index]
    if len(tokenizer) > n_embed:
        raise InputError(str(folder), f"the tokenizer has {len(tokenizer)} tokens but the model's vocabulary is "
                         f"{n_embed}: they do not belong together")  # fmt: skip
    return model.eval(), tokenizer


class ABCLanguageModel:
    """A causal LM over ABC text and its tokenizer, loaded and saved as one Hugging Face folder.

    `model` is the `transformers` model (a `LlamaForCausalLM` for cadenza's own), `tokenizer` its tokenizer;
    `figures` what was measured when it was trained (figures.json)."""

    kind: ClassVar[str] = KIND
    config_cls: ClassVar[type] = ABCLMConfig
    shipped: ClassVar[str | None] = SHIPPED

    def __init__(self, model: Any, tokenizer: Any, figures: dict[str, Any] | None = None) -> None:
        self.model, self.tokenizer, self.figures = model, tokenizer, dict(figures or {})
        self.extra: dict[str, Any] = {}  # the training segments, when it was just trained

    @classmethod
    def from_pretrained(cls, name_or_dir: str | Path | None = None, *, trust_remote_code: bool = False
                        ) -> ABCLanguageModel:  # fmt: skip
        """A local folder of the family (or a shipped model by name; default: models/abc-lm). Never the Hub."""
        model, tokenizer = load_abc_lm(name_or_dir, trust_remote_code=trust_remote_code)
        from cadenza.pretrained import resolve

        figures_path = resolve(name_or_dir or SHIPPED) / "figures.json"
        figures = json.loads(figures_path.read_text()) if figures_path.is_file() else {}
        return cls(model, tokenizer, figures)

    def save_pretrained(self, folder: str | Path, *, card: str = "", figures: dict[str, Any] | None = None) -> Path:
        """The model's and the tokenizer's files (`save_pretrained` of transformers), figures.json and README.md."""
        if figures is not None:
            self.figures = dict(figures)
        save_abc_lm(self.model, self.tokenizer, folder, card=card)
        if self.figures:
            write_text_atomic(Path(folder) / "figures.json", json.dumps(self.figures, indent=2) + "\n")
        return Path(folder)

    def generate(self, *, prompt: str = "X:1\n", n: int = 1, temperature: float = 0.7, top_k: int = 0,
                 top_p: float = 0.95, max_new_tokens: int = 600, seed: int = 0) -> list[str]:  # fmt: skip
        """`n` tunes continuing `prompt` (see `generate_abc`)."""
        return generate_abc(self.model, self.tokenizer, prompt=prompt, n=n, temperature=temperature, top_k=top_k,
                            top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)  # fmt: skip


CARD = (
    """---
library_name: transformers
pipeline_tag: text-generation
tags: [music, abc-notation, mupt, cadenza]
---
# ABC language model (MuPT family), trained by cadenza

A `LlamaForCausalLM` over ABC text, MuPT's special ids (pad 0, unk 1, bos 2, eos 3), a byte-level BPE of
{vocab} tokens trained here. Data: the Essen folk songs and the Irish books of O'Neill (1850), Ryan (1883) and
Aird (1782-1803) from music21's corpus, headers normalized to X / R / M / L / K, annotations dropped, only
tunes that abc2midi accepts; {jigs}. Split 90 / 5 / 5 by a hash of the tune id.

- Config: `{config}`
"""
    + TRAINING_BLOCK
    + """
`valid_nll` is in nats per token over whole validation tunes read from `<s>`; bits per character divide the
same sum by the characters of the tunes.

    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained("models/abc-lm", local_files_only=True)  # never the Hub
    tok = AutoTokenizer.from_pretrained("models/abc-lm", local_files_only=True)
"""
)


# ------------------------------------------------------------------------------------------------ generation


def header_prompt(
    *, meter: str | None = None, key: str | None = None, unit: str | None = None, rhythm: str | None = None
) -> str:
    """A tune header to generate from: X:1, then the given fields in the corpus order (K last)."""
    fields = {"R": normalize_rhythm(rhythm) if rhythm else None, "M": meter, "L": unit, "K": key}
    text = "X:1\n" + "".join(f"{f}:{v}\n" for f, v in fields.items() if v)
    return text


def check_prompt(prompt: str, name: str = "--prompt") -> str:
    """A prompt must begin a tune (X:) and, if it reaches the body, parse as ABC."""
    if not prompt.lstrip().startswith("X:"):
        raise InputError(name, "an ABC prompt starts with an X: line")
    if re.search(r"(?m)^K:", prompt):
        body = prompt.split("\n")
        if any(line and not line.startswith(("X:", "R:", "M:", "L:", "K:", "T:")) for line in body):
            from cadenza.evaluate.abc_validity import music21_ok

            ok, why = music21_ok(prompt)
            if not ok:
                raise InputError(name, f"does not parse as ABC: {why}")
    return prompt if prompt.endswith("\n") else prompt + "\n"


def end_of_tune(text: str) -> str:
    """The first tune of a sample: it ends at a blank line or where a new X: field begins (ABC's own rules)."""
    m = re.search(r"\n\s*\n|\nX:", text)
    body = text[: m.start()] if m else text
    return body.rstrip() + "\n"


class OpenRepeatGuard:
    """A logits processor (grammar-constrained sampling): while a `|:` repeat is open, the tune may not end.

    In our samples most tunes that abc2midi rejects open a repeat and end before closing it ("Missing :| at
    end of tune"), the Irish reels above all. While the last repeat sign opens a repeat (`|:` or `::`, not `:|`:
    a first part may close a repeat it never opened) this masks every way a tune ends: </s>, a final bar `|]`,
    a blank line and a new X: field; the model then closes the repeat itself."""

    def __init__(self, tokenizer: Any, prompt: str, batch: int) -> None:
        self.tokenizer = tokenizer
        pieces = [tokenizer.decode([i]) for i in range(len(tokenizer))]  # once: the vocabulary's texts
        self.enders = torch.tensor([i for i, t in enumerate(pieces) if "|]" in t or "\n\n" in t or "\nX" in t]
                                   + [tokenizer.eos_token_id])  # fmt: skip
        self.newline_first = torch.tensor([i for i, t in enumerate(pieces) if t[:1] in ("\n", "X")])
        self.bracket_first = torch.tensor([i for i, t in enumerate(pieces) if t[:1] == "]"])
        self.reset(prompt, batch)

    def reset(self, prompt: str, batch: int) -> None:
        """Start a new batch of `batch` tunes continuing `prompt`."""
        self.texts = [prompt] * batch
        self.seen = 0  # generated tokens already appended to self.texts

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        n_new = input_ids.shape[1] - self.seen
        if self.seen and n_new:  # the tokens chosen since the last call
            for r in range(input_ids.shape[0]):
                self.texts[r] += self.tokenizer.decode(input_ids[r, -n_new:].tolist(), skip_special_tokens=True)
        self.seen = input_ids.shape[1]
        for r, text in enumerate(self.texts):
            if max(text.rfind("|:"), text.rfind("::")) > text.rfind(":|"):  # the last repeat sign opens one
                scores[r, self.enders] = -torch.inf
                if text.endswith("\n"):  # a blank line or a new tune, across a token boundary
                    scores[r, self.newline_first] = -torch.inf
                elif text.endswith("|"):  # a final bar |], across a token boundary
                    scores[r, self.bracket_first] = -torch.inf
        return scores


@torch.no_grad()
def generate_abc(
    model: Any,
    tokenizer: Any,
    *,
    prompt: str = "X:1\n",
    n: int = 1,
    temperature: float = 0.7,
    top_k: int = 0,
    top_p: float = 0.95,
    max_new_tokens: int = 600,
    seed: int = 0,
    batch_size: int = 8,
    guard_repeats: bool = True,
) -> list[str]:
    """`n` tunes continuing `prompt` (sampling with the KV cache; tune i reproducible from seed + its batch);
    `guard_repeats`: a tune may not end inside an open `|:` repeat (`OpenRepeatGuard`).
    The defaults (temperature 0.7, top-p 0.95) are the CLI's; benchmarks/abc_lm.py measures validity and copying
    of training tunes at 0.7, 0.8 and 1.0."""
    from transformers import LogitsProcessorList

    model.eval()
    ids = [tokenizer.bos_token_id, *tokenizer.encode(prompt, add_special_tokens=False)]
    out: list[str] = []
    guard = OpenRepeatGuard(tokenizer, prompt, batch_size) if guard_repeats else None
    for start in range(0, n, batch_size):
        k = min(batch_size, n - start)
        torch.manual_seed(seed + start)
        x = torch.tensor([ids] * k)
        if guard is not None:
            guard.reset(prompt, k)
        y = model.generate(
            input_ids=x, attention_mask=torch.ones_like(x), do_sample=True, temperature=temperature,
            top_k=top_k or None, top_p=top_p, max_new_tokens=max_new_tokens,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
            logits_processor=LogitsProcessorList([guard] if guard is not None else []),
        )  # fmt: skip
        for row in y[:, len(ids) :].tolist():
            if tokenizer.eos_token_id in row:
                row = row[: row.index(tokenizer.eos_token_id)]
            out.append(end_of_tune(prompt + tokenizer.decode(row, skip_special_tokens=True)))
    return out


# ------------------------------------------------------------------------------------------------ fine-tuning


def finetune_defaults(lora: bool) -> tuple[int, float]:
    """(steps, learning rate) of 8 x 256-token batches, chosen on held-out O'Neill jigs (benchmarks/abc_lm.py):
    with 50 tunes (~10k tokens) that is 6-8 epochs; 150 steps overfit (held-out NLL fell 6.5% instead of ~20%).
    LoRA adapters start from zero and take larger steps than the full weights."""
    return (30, 3e-3) if lora else (40, 3e-4)


def finetune(
    model: Any,
    tokenizer: Any,
    train_tunes: Sequence[str],
    train_cfg: TrainConfig,
    out_dir: str | Path,
    *,
    lora: bool = True,
    rank: int = 16,
    context: int = 256,
    batch_size: int = 8,
    progress: bool = True,
) -> Any:
    """Fine-tune on tunes with the project's loop: LoRA adapters on every attention and MLP projection (peft),
    or every weight. Returns the tuned model (a peft model when `lora`)."""
    from cadenza.train.loop import train

    if lora:
        from peft import LoraConfig, get_peft_model

        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        config = LoraConfig(
            r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=[t for t in targets if t in present] or None,
            task_type="CAUSAL_LM",
        )  # fmt: skip
        model = get_peft_model(model, config)
    seqs = [tune_ids(tokenizer, t) for t in train_tunes]
    window = min(context, sum(map(len, seqs)) - 2)
    data = packed_windows(seqs, window, batch_size, seed=train_cfg.seed)
    train(
        model, data, lm_loss, train_cfg, out_dir=Path(out_dir) / "run", progress=progress,
        model_config={"finetune": {"lora": lora, "rank": rank}}, tokens_per_batch=window * batch_size,
    )  # fmt: skip
    return model.eval()
