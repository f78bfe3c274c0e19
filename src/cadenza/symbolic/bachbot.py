"""BachBot-style chorales (Liang 2016, "BachBot: automatic composition in the style of Bach chorales").

Encoding, as BachBot's: each chorale transposed to C major / A minor and cut into 16th-note frames; a frame is
an optional fermata token "(.)", then the four voices from soprano to bass, each as (pitch, tied?) where tied
means "the note of the previous frame goes on", then the frame delimiter "|||". START and END close the piece.

An LSTM (BachBot's best: 3 layers of 256) learns the token stream. It generates free chorales, and harmonizes:
any subset of voices is fixed (the soprano, typically) and the others are sampled token by token, the fixed
tokens forced in place (constrained decoding). A grammar mask keeps every output well formed: the right token
kind at each place in a frame, and a tie only where the voice's previous pitch continues.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from cadenza.core.score import Key, Note, Part, Score
from cadenza.encodings.base import EncodingError
from cadenza.encodings.transpose import to_c
from cadenza.errors import InputError
from cadenza.nn.lm import corpus_nll, lm_loss
from cadenza.pretrained import TRAINING_BLOCK, Pretrained
from cadenza.sample import sample_next
from cadenza.symbolic.lstm import LSTMLM, LSTMConfig
from cadenza.train.data import Windows, batch_generator
from cadenza.train.loop import TrainConfig

KIND = "bachbot"
STEP_QL = 0.25
START, END, DELIM, FERMATA = 0, 1, 2, 3
REST = 4
FIRST_NOTE = 5  # id FIRST_NOTE + 2 * pitch + tied
VOCAB_SIZE = FIRST_NOTE + 256
VOICES = ("soprano", "alto", "tenor", "bass")
PITCH_RANGE = (28, 96)  # pitches the decoder may choose (the chorales in C span 33..86)


def note_token(pitch: int, tied: bool) -> int:
    return FIRST_NOTE + 2 * pitch + int(tied)


def token_str(t: int) -> str:
    if t < FIRST_NOTE:
        return ("START", "END", "|||", "(.)", "rest")[t]
    p, tied = divmod(t - FIRST_NOTE, 2)
    return f"({p},{'True' if tied else 'False'})"


# A frame of the grid: per voice (pitch or -1, tied), and the fermata flag.
Frame = tuple[tuple[tuple[int, bool], ...], bool]


def frames_of(score: Score) -> list[Frame]:
    """The 16th-note frames of a four-part score (no transposition).

    Raises:
        EncodingError: not four parts, or a note off the 16th-note grid.
    """
    name = score.source or score.title or "score"
    if len(score.parts) != 4:
        raise EncodingError(f"{name}: {len(score.parts)} parts, a chorale needs 4")
    n = round(score.end / STEP_QL + 1e-6)
    voices = [[(-1, False)] * n for _ in range(4)]
    fermata = [False] * n
    for v, part in enumerate(score.parts):
        for note in part.notes:
            a, b = note.onset / STEP_QL, note.offset / STEP_QL
            if abs(a - round(a)) > 1e-6 or abs(b - round(b)) > 1e-6:
                raise EncodingError(f"{name}: note at {note.onset} is off the 16th-note grid")
            for k in range(round(a), min(n, round(b))):
                if voices[v][k][0] < note.pitch:  # a divided voice keeps its upper note
                    voices[v][k] = (note.pitch, k > round(a))
                fermata[k] |= note.fermata
    return [(tuple(voices[v][k] for v in range(4)), fermata[k]) for k in range(n)]


def encode_frames(frames: Sequence[Frame]) -> list[int]:
    out = [START]
    for voices, fermata in frames:
        if fermata:
            out.append(FERMATA)
        out += [REST if p < 0 else note_token(p, tied) for p, tied in voices]
        out.append(DELIM)
    return out + [END]


def encode_chorale(score: Score) -> list[int]:
    """The BachBot tokens of a chorale, transposed to C major / A minor."""
    return encode_frames(frames_of(to_c(score)[0]))


def decode_tokens(tokens: Sequence[int], *, key: Key | None = None, title: str = "BachBot chorale") -> Score:
    """Tokens back to a four-part score; notes join across frames where the tie flag says so."""
    frames: list[list[int]] = []
    ties: list[list[bool]] = []
    fermatas: list[bool] = []
    cur: list[int] = []
    cur_tie: list[bool] = []
    ferm = False
    for t in tokens:
        if t == DELIM:
            if len(cur) == 4:
                frames.append(cur)
                ties.append(cur_tie)
                fermatas.append(ferm)
            cur, cur_tie, ferm = [], [], False
        elif t == FERMATA:
            ferm = True
        elif t == REST:
            cur.append(-1)
            cur_tie.append(False)
        elif t >= FIRST_NOTE:
            p, tied = divmod(t - FIRST_NOTE, 2)
            cur.append(p)
            cur_tie.append(bool(tied))
    parts = []
    for v in range(4):
        notes: list[Note] = []
        start = None
        for k in range(len(frames) + 1):
            cont = k < len(frames) and ties[k][v] and start is not None and frames[k][v] == frames[start][v]
            if cont:
                continue
            if start is not None and frames[start][v] >= 0:
                f = any(fermatas[start:k])
                notes.append(Note(frames[start][v], start * STEP_QL, (k - start) * STEP_QL, 80, f))
            start = k if k < len(frames) else None
        parts.append(Part(tuple(notes), name=VOICES[v], program=52 if v else 19))
    return Score(tuple(parts), key=key or Key(0, "major"), tempo_bpm=72.0, title=title, source="bachbot")


def chorale_sequences(scores: Sequence[Score]) -> tuple[list[list[int]], int]:
    out, skipped = [], 0
    for s in scores:
        try:
            out.append(encode_chorale(s))
        except EncodingError:
            skipped += 1
    return out, skipped


# ------------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class BachBotConfig:
    model: LSTMConfig = LSTMConfig(vocab_size=VOCAB_SIZE, n_embd=64, hidden=256, n_layer=3, dropout=0.3,
                                   tie_weights=False)  # fmt: skip
    window: int = 128
    batch_size: int = 32
    lr: float = 3e-3
    stateful: bool = True  # truncated BPTT: the LSTM state carries over from one window to the next


class StreamWindows:
    """Truncated-BPTT batches, as torch-rnn (BachBot's trainer) made them: the token stream is cut into
    `batch_size` lanes, and step s gives each lane its s-th consecutive window, so the LSTM state at the end of
    one batch is the right start for the next. `carry` is 0 where a lane starts over (a new pass, shifted by a
    pseudo-random offset so window edges move between passes); then the state is reset."""

    def __init__(self, seqs: list[list[int]], window: int, batch_size: int, seed: int = 0) -> None:
        self.tokens = torch.tensor([t for s in seqs for t in s])
        self.window, self.batch_size, self.seed = window, batch_size, seed
        self.lane = self.tokens.numel() // batch_size
        self.per_pass = (self.lane - window - 1) // window
        if self.per_pass < 1:
            raise ValueError(f"{self.tokens.numel()} tokens are too few for {batch_size} lanes of {window}")

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        epoch, j = divmod(step, self.per_pass)
        offset = int(torch.randint(0, self.window, (1,), generator=batch_generator(self.seed, epoch, rank)))
        starts = torch.arange(self.batch_size) * self.lane + offset + j * self.window
        win = self.tokens[starts[:, None] + torch.arange(self.window + 1)]
        return {"x": win[:, :-1], "y": win[:, 1:], "carry": torch.tensor(int(j > 0))}


class StatefulLoss:
    """Mean next-token cross-entropy that starts each batch from the previous batch's final LSTM state
    (detached: gradients stop at the window edge). A resumed run starts from a zero state, as a new pass does."""

    def __init__(self) -> None:
        self.state: tuple[torch.Tensor, torch.Tensor] | None = None

    def __call__(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        carry = bool(batch.get("carry", torch.tensor(0))) and self.state is not None
        if carry and self.state is not None and self.state[0].size(1) != batch["x"].size(0):
            carry = False
        logits, state = model(batch["x"], self.state if carry else None)
        self.state = (state[0].detach(), state[1].detach())
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch["y"].reshape(-1))


def evaluate_chorales(model: LSTMLM, seqs: list[list[int]]) -> dict[str, float]:
    """Cross-entropy per token (nats) of whole chorales, each read from START (BachBot's measure)."""
    return corpus_nll(model, seqs)


class BachBot(Pretrained, LSTMLM):
    """The BachBot-style chorale LSTM: generates four-part chorales and harmonizes a given soprano."""

    kind: ClassVar[str] = KIND
    config_cls: ClassVar[type] = LSTMConfig
    shipped: ClassVar[str | None] = "bachbot"
    cfg: LSTMConfig

    def generate(self, *, frames: int = 256, temperature: float = 1.0, top_p: float = 1.0, seed: int = 0) -> Score:
        """A free chorale of at most `frames` 16th-note frames."""
        return decode_tokens(decode(self, n_frames=frames, temperature=temperature, top_p=top_p, seed=seed))

    def harmonize(self, melody: Score, *, temperature: float = 0.7, seed: int = 0) -> Score:
        """Alto, tenor and bass under a soprano (see `harmonize_bachbot`)."""
        return harmonize_bachbot(melody, self, temperature=temperature, seed=seed)


def train_bachbot(
    cfg: BachBotConfig, train_cfg: TrainConfig, train_seqs: list[list[int]], valid_seqs: list[list[int]],
    out_dir: str | Path, *, progress: bool = True, new_segment: bool = False,
) -> tuple[BachBot, dict[str, Any]]:  # fmt: skip
    from cadenza.train.loop import train

    torch.manual_seed(train_cfg.seed)
    model = BachBot(cfg.model)
    stream = [t for s in train_seqs for t in s]
    data = StreamWindows(train_seqs, cfg.window, cfg.batch_size, seed=train_cfg.seed) if cfg.stateful else \
        Windows(stream, cfg.window, cfg.batch_size, train_cfg.seed)  # fmt: skip
    loss_fn = StatefulLoss() if cfg.stateful else lm_loss
    result = train(
        model, data, loss_fn, train_cfg, out_dir=Path(out_dir) / "run",
        eval_fn=lambda m: {"valid/nll": evaluate_chorales(m, valid_seqs)["nll"]},  # type: ignore[arg-type]
        model_config={"model": asdict(cfg.model), "bachbot": asdict(cfg)}, progress=progress,
        tokens_per_batch=cfg.window * cfg.batch_size, new_segment=new_segment,
    )  # fmt: skip
    model.extra = {"bachbot": asdict(cfg), "segments": result.segments}
    figures = {"valid_nll": evaluate_chorales(model, valid_seqs)["nll"], "train_seconds": result.seconds,
               "steps": result.step}  # fmt: skip
    return model, figures


CARD = (
    """# BachBot-style chorale LSTM, {corpus}

BachBot's encoding (Liang 2016): chorales in C major / A minor, 16th-note frames, each frame an optional
fermata token then (pitch, tied) for soprano, alto, tenor, bass, then "|||"; START / END. Trained on the train
split of `{corpus}` ({n_train} chorales; {n_valid} in the valid split). With `stateful`, training is truncated
backpropagation through time as in torch-rnn (BachBot's trainer): the token stream is cut into `batch_size`
lanes read window after window, the LSTM state carried from each window to the next.

- Config: `{config}`
"""
    + TRAINING_BLOCK
    + """
Cross-entropy in nats per token over whole validation chorales read from START. BachBot reports 0.477.
"""
)


# ------------------------------------------------------------------------------------------------ decoding


def _allowed(place: int, prev: list[int] | None, fermata_seen: bool) -> torch.Tensor:
    """Mask of tokens allowed at `place` in a frame (0..3 = a voice, 4 = the delimiter; -1 = frame start)."""
    ok = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
    if place == -1:  # frame start: fermata, the soprano, or the end of the piece
        ok[FERMATA] = True
        ok[END] = True
        place = 0
    if place == 4:
        ok[DELIM] = True
        return ok
    ok[REST] = True
    ok[note_token(PITCH_RANGE[0], False) : note_token(PITCH_RANGE[1], False) + 1 : 2] = True  # untied pitches
    if prev is not None and prev[place] >= 0:
        ok[note_token(prev[place], True)] = True  # the voice's previous pitch may go on
    return ok


@torch.no_grad()
def decode(
    model: LSTMLM,
    fixed: Sequence[Sequence[int | None]] | None = None,
    *,
    n_frames: int = 256,
    min_frames: int = 64,
    fermatas: Sequence[bool] | None = None,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
) -> list[int]:
    """Sample a chorale token by token (END is not allowed before `min_frames` frames).

    `fixed[k][v]` is a forced token for voice v at frame k (None: free);
    with `fixed`, the piece has exactly len(fixed) frames and fermatas follow `fermatas` (default: none)."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    tokens = [START]
    logits, state = model(torch.tensor([[START]]))
    prev: list[int] | None = None
    limit = len(fixed) if fixed is not None else n_frames
    frame = 0

    def emit(tok: int) -> None:
        nonlocal logits, state
        tokens.append(tok)
        logits, state = model(torch.tensor([[tok]]), state)

    def choose(mask: torch.Tensor) -> int:
        masked = logits[:, -1].masked_fill(~mask, float("-inf"))
        return int(sample_next(masked, temperature=temperature, top_p=top_p, generator=g)[0])

    while frame < limit:
        cur: list[int] = []
        if fixed is not None:
            if fermatas is not None and fermatas[frame]:
                emit(FERMATA)
        else:
            start_mask = _allowed(-1, prev, False)
            if frame < min_frames:
                start_mask[END] = False
            tok = choose(start_mask)
            if tok == END:
                break
            if tok == FERMATA:
                emit(FERMATA)
        for v in range(4):
            forced = fixed[frame][v] if fixed is not None else None
            if forced is None:
                forced = choose(_allowed(v, prev, False))
            emit(forced)
            cur.append(-1 if forced == REST else (forced - FIRST_NOTE) // 2)
        emit(DELIM)
        prev = cur
        frame += 1
    tokens.append(END)
    return tokens


def rule_breaks(prev: torch.Tensor, cur: torch.Tensor, v: int, pitches: torch.Tensor, shift: int = 0) -> torch.Tensor:
    """[K, P]: would voice v taking each candidate pitch break a textbook rule against the voices above it?

    `prev` [K, 4] is the previous frame's pitches, `cur` [K, 4] this frame's (voices above v filled; -1 = rest or
    unknown). Rules, as `cadenza.evaluate.voice_leading` counts them: parallel fifths or octaves with a voice
    above (both moving, same direction, a perfect fifth or octave before and after), crossing the voice just
    above, more than an octave below it (alto, tenor), and the voice's compass (`RANGES`, 2 semitones of leeway,
    judged in the melody's own key: `shift` is the transposition to C that was applied).
    """
    from cadenza.evaluate.voice_leading import RANGES

    cand = pitches[None]  # [1, P]
    pv = prev[:, v : v + 1]
    bad = torch.zeros(prev.size(0), pitches.numel(), dtype=torch.bool)
    moving_v = (cand != pv) & (pv >= 0)
    for u in range(v):
        pu, cu = prev[:, u : u + 1], cur[:, u : u + 1]
        known = (pu >= 0) & (cu >= 0) & moving_v & (cu != pu)
        same_dir = torch.sign(cu - pu) == torch.sign(cand - pv)
        before, after = (pu - pv) % 12, (cu - cand) % 12
        perfect = ((before == 7) & (after == 7)) | ((before == 0) & (after == 0))
        bad |= known & same_dir & perfect
    if v > 0:
        above = cur[:, v - 1 : v]
        bad |= (above >= 0) & (cand > above)
        if v in (1, 2):
            bad |= (above >= 0) & (above - cand > 12)
    lo, hi = RANGES[v]
    bad |= ((pitches - shift < lo - 2) | (pitches - shift > hi + 2))[None]
    return bad


@torch.no_grad()
def decode_fixed(
    model: LSTMLM,
    fixed: Sequence[Sequence[int | None]],
    *,
    fermatas: Sequence[bool] | None = None,
    n_samples: int = 16,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    rules: bool = False,
    shift: int = 0,
) -> tuple[list[list[int]], list[float]]:
    """Constrained decoding of `n_samples` chorales at once (one LSTM batch), each frame's forced tokens in place.
    With `rules`, a free voice may not take a pitch that `rule_breaks` forbids (unless every pitch is forbidden:
    then the model alone decides that note). Returns every sample's tokens and log-probability (the sum over
    its sampled tokens, under the masked distribution at temperature 1)."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    K = n_samples
    tokens = torch.full((K, 1), START, dtype=torch.long)
    logits, state = model(tokens)
    logp = torch.zeros(K)
    prev = torch.full((K, 4), -1, dtype=torch.long)
    base = _allowed(0, None, False)
    ties = note_token(0, True) + 2 * torch.arange(128)  # tied token of each pitch
    pitches = torch.arange(PITCH_RANGE[0], PITCH_RANGE[1] + 1)
    untied = FIRST_NOTE + 2 * pitches
    out = [tokens]

    def feed(tok: torch.Tensor) -> None:
        nonlocal logits, state
        out.append(tok[:, None])
        logits, state = model(tok[:, None], state)

    for frame in range(len(fixed)):
        if fermatas is not None and fermatas[frame]:
            feed(torch.full((K,), FERMATA, dtype=torch.long))
        cur = torch.full((K, 4), -1, dtype=torch.long)
        for v in range(4):
            forced = fixed[frame][v]
            if forced is not None:
                tok = torch.full((K,), forced, dtype=torch.long)
            else:
                mask = base.expand(K, -1).clone()
                lanes = (prev[:, v] >= 0).nonzero().squeeze(1)
                mask[lanes, ties[prev[lanes, v]]] = True
                if rules:
                    allowed = mask[:, untied] & ~rule_breaks(prev, cur, v, pitches, shift)
                    keep = allowed.any(1) | (prev[:, v] >= 0)  # lanes with a lawful pitch or the tie left
                    mask[:, untied] = torch.where(keep[:, None], allowed, mask[:, untied])
                masked = logits[:, -1].masked_fill(~mask, float("-inf"))
                tok = sample_next(masked, temperature=temperature, top_p=top_p, generator=g)
                logp += torch.log_softmax(masked, dim=-1).gather(1, tok[:, None]).squeeze(1)
            feed(tok)
            cur[:, v] = torch.where(tok == REST, -1, (tok - FIRST_NOTE) // 2)
        feed(torch.full((K,), DELIM, dtype=torch.long))
        prev = cur
    all_tokens = torch.cat(out + [torch.full((K, 1), END, dtype=torch.long)], dim=1)
    return all_tokens.tolist(), logp.tolist()


def soprano_constraints(melody: Score) -> tuple[list[list[int | None]], list[bool], int]:
    """Fixed soprano tokens per frame, fermatas per frame, and the transposition to C applied (to undo)."""
    moved, shift = to_c(melody)
    part = moved.melody()
    name = melody.source or melody.title or "melody"
    n = round(part.end / STEP_QL + 1e-6) if part.notes else 0
    if n == 0:
        raise InputError(name, "has no notes to harmonize")
    fixed: list[list[int | None]] = [[REST, None, None, None] for _ in range(n)]
    fermatas = [False] * n
    for note in part.notes:
        a, b = note.onset / STEP_QL, note.offset / STEP_QL
        if abs(a - round(a)) > 1e-6 or abs(b - round(b)) > 1e-6:
            raise InputError(name, f"note at {note.onset} is off the 16th-note grid; BachBot cannot hold it")
        for k in range(round(a), round(b)):
            fixed[k][0] = note_token(note.pitch, k > round(a))
            fermatas[k] |= note.fermata
    return fixed, fermatas, shift


def harmonize_bachbot(
    melody: Score,
    model: LSTMLM,
    *,
    temperature: float = 0.7,
    n_samples: int = 16,
    rules: bool = True,
    seed: int = 0,
    fermatas_from_phrases: bool = True,
) -> Score:
    """Alto, tenor and bass for a soprano melody by constrained decoding: `n_samples` samples drawn in one batch,
    and the one with the fewest voice-leading violations kept (ties: the more likely). With `rules`, the
    textbook rules also mask each note as it is sampled (`rule_breaks`): the model proposes, the rules dispose.
    Returns the four parts in the melody's own key. Without fermatas in the melody, a fermata is put on the last
    note."""
    from cadenza.evaluate.voice_leading import RULES, violations

    fixed, fermatas, shift = soprano_constraints(melody)
    if fermatas_from_phrases and not any(fermatas):
        last_onset = round(melody.melody().notes[-1].onset / STEP_QL)
        for k in range(last_onset, len(fermatas)):
            fermatas[k] = True
    samples, logp = decode_fixed(model, fixed, fermatas=fermatas, n_samples=n_samples, temperature=temperature,
                                 seed=seed, rules=rules, shift=shift)  # fmt: skip
    key = to_c(melody)[0].key
    scores = [decode_tokens(t, key=key, title="BachBot harmonization").transpose(-shift) for t in samples]
    counts = [sum(violations(sc)["counts"][r] for r in RULES) for sc in scores]
    score = scores[min(range(len(scores)), key=lambda i: (counts[i], -logp[i]))]
    return score.replace(time_signature=melody.time_signature, pickup=melody.pickup, tempo_bpm=melody.tempo_bpm or 72.0)
