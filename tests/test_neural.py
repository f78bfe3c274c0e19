"""Neural symbolic models: LSTM melodies, BachBot chorales, the JSB Music Transformer (tiny, fast configs)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cadenza.core.score import Note, Part, Score
from cadenza.encodings.melody_grid import VOCAB
from cadenza.evaluate.voice_leading import violations
from cadenza.nn.lm import sliding_nll
from cadenza.symbolic import bachbot, lstm, transformer
from cadenza.train.checkpoint import save_model
from cadenza.train.loop import TrainConfig

TINY_TC = TrainConfig(max_steps=40, lr=1e-2, warmup_steps=3, eval_every=30, checkpoint_every=30, log_every=10)


# ------------------------------------------------------------------------------------------------ LSTM melody


def test_melody_lstm_learns_and_generates(essen_scores, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    songs, skipped = lstm.melody_ids(essen_scores)
    assert len(songs) + skipped == len(essen_scores) and len(songs) >= 20
    preset = replace(lstm.PRESETS["default"], model=lstm.LSTMConfig(n_embd=32, hidden=32, n_layer=1), window=32,
                     batch_size=8)  # fmt: skip
    untrained = lstm.evaluate_melodies(lstm.MelodyLSTM(preset), songs[20:], preset.song_delimiters)
    assert untrained["nll"] == pytest.approx(math.log(len(VOCAB)), rel=0.05)  # uniform at the start
    model, figures = lstm.train_melody_lstm(preset, TINY_TC, songs[:20], songs[20:], tmp_path, progress=False)
    assert figures["valid_nll"] < untrained["nll"] - 1.0
    score = lstm.generate_melody(model, preset, max_steps=64, seed=3)
    again = lstm.generate_melody(model, preset, max_steps=64, seed=3)
    assert score.parts[0].notes == again.parts[0].notes  # reproducible from the seed
    assert 0 < score.end <= 64 * 0.25


def test_course_preset_is_the_course_model() -> None:
    p = lstm.PRESETS["course"]
    model = lstm.LSTMLM(p.model)
    assert model.embed is None and model.lstm.num_layers == 1 and model.lstm.hidden_size == 256
    assert (p.window, p.song_delimiters, p.all_positions, p.model.dropout) == (64, 64, False, 0.2)
    x = torch.randint(0, len(VOCAB), (2, 64))
    batch = {"x": x, "y": x}
    assert lstm.last_position_loss(model, batch).shape == ()


def test_melody_primer_is_continued_in_its_key(essen_scores) -> None:  # type: ignore[no-untyped-def]
    preset = lstm.PRESETS["default"]
    model = lstm.LSTMLM(replace(preset.model, n_embd=16, hidden=16, n_layer=1))
    primer = essen_scores[0]
    out = lstm.generate_melody(model, preset, primer=primer, max_steps=16, seed=0)
    first = primer.melody().notes
    assert out.parts[0].notes[: len(first)] == tuple(Note(n.pitch, n.onset, n.duration) for n in first)
    chords = Score((Part((Note(60, 0, 1), Note(64, 0, 1))),), title="chords")
    with pytest.raises(Exception, match="overlapping"):
        lstm.generate_melody(model, preset, primer=chords)


# ------------------------------------------------------------------------------------------------ BachBot


def test_bachbot_encoding_round_trips(bach_scores) -> None:  # type: ignore[no-untyped-def]
    from cadenza.encodings.transpose import to_c

    for s in bach_scores[:4]:
        tokens = bachbot.encode_chorale(s)
        assert tokens[0] == bachbot.START and tokens[-1] == bachbot.END
        back = bachbot.decode_tokens(tokens)
        moved = to_c(s)[0]
        for a, b in zip(back.parts, moved.parts, strict=True):
            # repeated notes of one pitch merge only where the source ties them
            assert [(n.pitch, n.onset, n.duration) for n in a.notes] == [
                (n.pitch, n.onset, n.duration) for n in b.notes
            ]
        assert any(n.fermata for n in back.parts[0].notes)


def test_bachbot_decoding_keeps_the_grammar_and_the_soprano(bach_scores) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = bachbot.LSTMLM(bachbot.LSTMConfig(vocab_size=bachbot.VOCAB_SIZE, n_embd=8, hidden=16, n_layer=1))
    free = bachbot.decode(model, n_frames=12, seed=1)
    assert free[0] == bachbot.START and free[-1] == bachbot.END
    frames: list[list[int]] = [[]]
    for t in free[1:-1]:
        if t == bachbot.DELIM:
            frames.append([])
        elif t != bachbot.FERMATA:
            frames[-1].append(t)
    assert frames[-1] == [] and all(len(f) == 4 for f in frames[:-1])
    melody = bach_scores[0].replace(parts=(bach_scores[0].parts[0],))
    out = bachbot.harmonize_bachbot(melody, model, seed=2)
    assert len(out.parts) == 4
    src = [(n.pitch, n.onset, n.duration) for n in melody.parts[0].notes]
    assert [(n.pitch, n.onset, n.duration) for n in out.parts[0].notes] == src
    assert out.end == melody.end
    assert violations(out)["chords"] > 0


def test_bachbot_trains(bach_scores, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seqs, skipped = bachbot.chorale_sequences(bach_scores)
    assert skipped <= 2
    cfg = bachbot.BachBotConfig(
        model=bachbot.LSTMConfig(vocab_size=bachbot.VOCAB_SIZE, n_embd=16, hidden=32, n_layer=1), window=64,
        batch_size=8, lr=1e-2,
    )  # fmt: skip
    before = bachbot.evaluate_chorales(bachbot.LSTMLM(cfg.model), seqs[-2:])["nll"]
    tc = replace(TINY_TC, max_steps=60, lr=1e-2, eval_every=60, checkpoint_every=60)
    model, figures = bachbot.train_bachbot(cfg, tc, seqs[:-2], seqs[-2:], tmp_path, progress=False)
    assert figures["valid_nll"] < before - 1.5  # the frame grammar is learned first


def test_bachbot_stream_windows_carry_state(bach_scores) -> None:  # type: ignore[no-untyped-def]
    seqs, _ = bachbot.chorale_sequences(bach_scores)
    data = bachbot.StreamWindows(seqs, window=32, batch_size=4)
    b0, b1 = data.batch(0), data.batch(1)
    assert int(b0["carry"]) == 0 and int(b1["carry"]) == 1
    assert torch.equal(b0["y"][:, -1], b1["x"][:, 0])  # lane k of step 1 goes on where step 0 stopped
    assert int(data.batch(data.per_pass)["carry"]) == 0  # a new pass starts from a zero state
    model = bachbot.LSTMLM(bachbot.LSTMConfig(vocab_size=bachbot.VOCAB_SIZE, n_embd=8, hidden=16, n_layer=1))
    loss = bachbot.StatefulLoss()
    loss(model, b0)
    assert loss.state is not None and not loss.state[0].requires_grad
    # with the carried state, the loss of batch 1 equals reading both windows in one go
    with torch.no_grad():
        model.eval()
        logits, _ = model(torch.cat([b0["x"], b1["x"]], 1))
        whole = F.cross_entropy(logits[:, 32:].reshape(-1, logits.size(-1)), b1["y"].reshape(-1))
        assert torch.allclose(loss(model, b1), whole, atol=1e-5)


def test_bachbot_best_of_n_has_no_more_violations(bach_scores) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = bachbot.LSTMLM(bachbot.LSTMConfig(vocab_size=bachbot.VOCAB_SIZE, n_embd=8, hidden=16, n_layer=1))
    melody = bach_scores[1].replace(parts=(bach_scores[1].parts[0],))
    fixed, fermatas, shift = bachbot.soprano_constraints(melody)
    samples, logp = bachbot.decode_fixed(model, fixed, fermatas=fermatas, n_samples=4, temperature=0.7, seed=3)
    assert len(samples) == len(logp) == 4 and len({tuple(s) for s in samples}) > 1
    assert all(math.isfinite(x) and x < 0 for x in logp)
    total = [sum(violations(bachbot.decode_tokens(s).transpose(-shift))["counts"].values()) for s in samples]
    best = bachbot.harmonize_bachbot(melody, model, n_samples=4, rules=False, seed=3, fermatas_from_phrases=False)
    assert sum(violations(best)["counts"].values()) == min(total)
    ruled = bachbot.harmonize_bachbot(melody, model, n_samples=4, rules=True, seed=3)
    counts = violations(ruled)["counts"]
    assert counts["parallel_fifths"] + counts["parallel_octaves"] + counts["voice_crossing"] < min(total)


def test_voice_leading_counts_parallels_crossings_and_ranges() -> None:
    def part(pitches: list[int]) -> Part:
        return Part(tuple(Note(p, float(i), 1.0) for i, p in enumerate(pitches)))

    # S and B move C5/C4 -> D5/D4 (parallel octaves), A and T hold
    v = violations(Score((part([72, 74]), part([67, 67]), part([64, 64]), part([60, 62]))))["counts"]
    assert v["parallel_octaves"] == 1 and v["parallel_fifths"] == 0
    # A and T move G4/C4 -> A4/D4 (parallel fifths); S and B hold; then contrary motion: no parallel
    v = violations(Score((part([76, 76, 77]), part([67, 69, 72]), part([60, 62, 60]), part([48, 48, 50]))))["counts"]
    assert v["parallel_fifths"] == 1 and v["parallel_octaves"] == 0
    crossing = Score((part([60]), part([64]), part([55]), part([48])))
    assert violations(crossing)["counts"]["voice_crossing"] == 1
    wide = Score((part([84]), part([67]), part([52]), part([30])))
    c = violations(wide)["counts"]
    assert c["spacing"] == 2 and c["range"] == 2  # S above G5, B below E2


# ------------------------------------------------------------------------------------------------ JSB


def test_jsb_tokens_and_windows() -> None:
    grid = [[72, 67, 64, 48], [72, 67, 64, -1]]
    tokens = transformer.piece_tokens(grid)
    assert tokens == [transformer.BOS, 73, 68, 65, 49, 73, 68, 65, 0]
    assert transformer.tokens_to_grid(tokens) == grid
    assert transformer.token_phases(6) == [3, 0, 1, 2, 3, 0]
    pieces = transformer.jsb_sequences("train")
    assert len(pieces) == 229
    data = transformer.jsb_windows(pieces, block_size=32, batch_size=64, max_shift=3, seed=1)
    b = data.batch(7)
    assert b["x"].shape == (64, 32) and torch.equal(b["x"], data.batch(7)["x"])
    assert torch.equal(b["x"][:, 1:], b["y"][:, :-1])
    bos = b["x"] == transformer.BOS
    assert (b["phase"][bos] == 3).all()
    # each window is transposed by its own interval of at most 3 semitones; silences and BOS stay
    plain = transformer.jsb_windows(pieces, block_size=32, batch_size=64, max_shift=0, seed=1).batch(7)
    pitch = (plain["x"] >= 1) & (plain["x"] <= 128)
    assert torch.equal(b["x"][~pitch], plain["x"][~pitch])
    shifts = {int(d) for row in range(64) for d in (b["x"][row] - plain["x"][row])[pitch[row]].unique()}
    assert shifts <= set(range(-3, 4)) and len(shifts) > 3


def test_jsb_eval_and_generation_of_a_tiny_model(tmp_path: Path) -> None:
    cfg = transformer.JSBTrainConfig(block_size=32, n_layer=1, n_head=2, n_embd=16)
    torch.manual_seed(0)
    model = transformer.GPT(transformer.model_config(cfg)).eval()
    seq = transformer.jsb_sequences("valid")[0][:101]
    total, count = sliding_nll(model, seq, phase=transformer.token_phases(len(seq)))
    assert count == 100 and total / count == pytest.approx(math.log(transformer.VOCAB), rel=0.1)
    # sliding windows score each token once, from at least half the context: at stride 32 (no overlap) the
    # first token of each window has almost nothing before it and the NLL differs
    coarse, _ = sliding_nll(model, seq, 32, phase=transformer.token_phases(len(seq)))
    assert coarse != pytest.approx(total, rel=1e-6)
    score = transformer.generate_chorale(model, steps=12, seed=5)  # 49 tokens > the 32-token context
    assert len(score.parts) == 4 and score.end <= 12 * 0.25 + 1e-9
    save_model(tmp_path / "mt", model, {"model": model.cfg.__dict__}, kind=transformer.KIND, card="# t\n")
    loaded = transformer.MusicTransformer.from_pretrained(tmp_path / "mt")
    x, phase = torch.tensor([seq[:8]]), torch.tensor([transformer.token_phases(8)])
    assert torch.equal(loaded(x, phase=phase)[0], model(x, phase=phase)[0])


# ------------------------------------------------------------------------------------------------ REMI Transformer


def test_remi_pieces_round_trip_and_transpose(bach_scores, essen_scores) -> None:  # type: ignore[no-untyped-def]
    from cadenza.symbolic import remi_lm

    chorale = bach_scores[0]
    ids = remi_lm.piece_ids(chorale, "bach")
    assert ids[1] == remi_lm.style_token("bach") and ids[-1] == remi_lm._vocab_facts()["eos"]
    back = remi_lm.decode_ids(ids)
    assert [p.program for p in back.parts] == list(remi_lm.VOICE_PROGRAMS)
    for a, b in zip(back.parts, chorale.parts, strict=True):
        assert [(n.pitch, n.onset, n.duration) for n in a.notes] == [(n.pitch, n.onset, n.duration) for n in b.notes]
    tune = essen_scores[0]
    assert len(remi_lm.decode_ids(remi_lm.piece_ids(tune, "essen")).parts) == 1
    x = torch.tensor([ids[:50]])
    up = remi_lm.pitch_transposer(5).shift(x, torch.tensor([2]))
    pitch_of = remi_lm._vocab_facts()["pitch_of"]
    moved = pitch_of[x] >= 0
    assert moved.any() and torch.equal(pitch_of[up][moved], pitch_of[x][moved] + 2)
    assert torch.equal(up[~moved], x[~moved])
    assert remi_lm.head_bars(chorale, 2).end <= 2 * chorale.time_signature.bar_length + chorale.pickup


def test_remi_transformer_trains_and_generates(tmp_path: Path) -> None:
    from cadenza.symbolic import remi_lm

    cfg = remi_lm.RemiTrainConfig(block_size=64, n_layer=1, n_head=2, n_embd=32, batch_size=4)
    tc = replace(TINY_TC, max_steps=30, lr=3e-3, eval_every=30, checkpoint_every=30)
    model, figures = remi_lm.train_remi(cfg, tc, tmp_path, progress=False, limit=12)
    assert figures["valid_tokens"] > 100 and figures["valid_nll"] < math.log(remi_lm.vocab_size()) - 1.0
    out = remi_lm.generate_remi(model, style="bach", bars=3, seed=1)
    assert 1 <= len(out.parts) <= 4 and {p.program for p in out.parts} <= set(remi_lm.VOICE_PROGRAMS)
    assert out == remi_lm.generate_remi(model, style="bach", bars=3, seed=1)  # a seed reproduces the sample
    tunes = [remi_lm.generate_remi(model, style="essen", bars=4, seed=s) for s in range(3)]
    for tune in tunes:  # a melody, in the style's one instrument
        assert [p.program for p in tune.parts] == [remi_lm.MELODY_PROGRAM] and tune.n_notes > 0
