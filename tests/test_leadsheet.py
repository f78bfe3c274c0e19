"""Lead sheets and voicing: chord symbols read per beat, the chords an output sounds, complete voicings without
parallels, lead-sheet textures, chord models learned from lead sheets (POP909) with their harmonic rhythm."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cadenza.core import Key, TimeSignature, make_score
from cadenza.core.score import ChordSymbol
from cadenza.evaluate.voice_leading import violations
from cadenza.symbolic.harmonize import HarmonyModel, HarmonyProblem, bar_positions, harmonize, symbol_labels
from cadenza.symbolic.harmonize_eval import complete_share
from cadenza.symbolic.leadsheet import accuracy_triplet, chord_symbol_beats, parse_figure, sounded_chords

TUNES = """X:1
T:Lead sheet one
M:4/4
L:1/4
K:G
"G"GABG|"C"cBAG|"D7"FGAF|"G"G4|"G"BAGB|"Em"EFGB|"Am"cBAG|"D7"FEDF|"G"G4|]

X:2
T:Lead sheet two
M:4/4
L:1/4
K:D
"D"DFAF|"G"GBdB|"A7"Acec|"D"d4|"Bm"BAFD|"G"GABG|"A7"AGFE|"D"D4|]

X:3
T:Lead sheet three
M:3/4
L:1/4
K:C
"C"CEG|"F"FAc|"G7"GBd|"C"c3|"Am"ABc|"Dm"DFA|"G7"GFD|"C"C3|]
"""


@pytest.fixture(scope="module")
def bach_model() -> HarmonyModel:
    return HarmonyModel.from_pretrained("harmony-bach")


def test_parse_figure_reads_the_usual_spellings() -> None:
    assert parse_figure("F#m7/C#") == (6, "min7")
    assert parse_figure("A:min7") == (9, "min7")  # POP909
    assert parse_figure("Bb:sus4(b7)") == (10, "7sus4")
    assert parse_figure("B-") == (10, "maj")  # music21 writes flats with "-"
    assert parse_figure("Dm7b5") == (2, "hdim7")
    assert parse_figure("E7(b9)") == (4, "7")
    assert parse_figure("N") is None and parse_figure("N.C.") is None and parse_figure("H7") is None


def test_chord_symbols_hold_until_the_next_and_triplet_counts() -> None:
    s = make_score([[(60, 0, 4), (62, 4, 4)]], key=Key(0), time_signature=TimeSignature(4, 4))
    s = s.replace(chords=(ChordSymbol(0.0, "C"), ChordSymbol(2.0, "G7"), ChordSymbol(6.0, "N")))
    ref = chord_symbol_beats(s)
    assert ref == [(0, "maj"), (0, "maj"), (7, "7"), (7, "7"), (7, "7"), (7, "7"), None, None]
    got = [(0, "maj"), (0, "7"), (7, "maj"), (7, "7"), (2, "min"), None, (0, "maj"), None]
    assert accuracy_triplet(got, ref) == {"beats": 6, "root": 4, "root_triad": 4, "root_quality": 2}


def test_sounded_chords_name_what_plays_in_any_key() -> None:
    # E major, C# minor, then B7 (its seventh, A, in a fifth part), the root in the bass, one chord per beat
    s = make_score([[(64, 0, 1), (61, 1, 1), (59, 2, 1)], [(68, 0, 1), (64, 1, 1), (63, 2, 1)],
                    [(71, 0, 1), (68, 1, 1), (66, 2, 1)], [(52, 0, 1), (49, 1, 1), (47, 2, 1)], [(69, 2, 1)]],
                   key=Key(4), time_signature=TimeSignature(3, 4))  # fmt: skip
    assert sounded_chords(s) == [(4, "maj"), (1, "min"), (11, "7")]


def test_satb_voicing_holds_every_chord_without_parallels(bach_model: HarmonyModel, bach_scores) -> None:  # type: ignore[no-untyped-def]
    for s in bach_scores[:3]:
        h = harmonize(s, bach_model, key=s.key)
        assert complete_share(h) == 1.0  # root, third and fifth-or-seventh in the four voices, every slot
        v = violations(h.score)["counts"]
        assert v["parallel_fifths"] == 0 and v["parallel_octaves"] == 0 and v["voice_crossing"] == 0
        # chordify the output: it sounds the chords chosen (melody passing notes aside)
        sounded = sounded_chords(h.score, h.slot_ql)
        chosen = [((h.key.tonic + c.root) % 12) for c in h.chords]
        agree = np.mean([p is not None and p[0] == r for p, r in zip(sounded, chosen)])
        assert agree > 0.85, agree


def test_lead_sheet_textures(bach_model: HarmonyModel, tmp_path: Path) -> None:
    from cadenza import io

    path = tmp_path / "tunes.abc"
    path.write_text(TUNES)
    tune = io.read(path)[0]
    assert [c.figure for c in tune.chords][:3] == ["G", "C", "D7"]
    chords = harmonize(tune, bach_model, texture="chords").score
    assert [p.name for p in chords.parts] == ["melody", "chords", "bass"]
    oompah = harmonize(tune, bach_model, texture="oompah").score
    bass = oompah.parts[2].notes
    assert bass and all(n.onset % 2 == 0 for n in bass)  # 4/4: the bass on beats 1 and 3 only
    assert all(n.onset % 2 == 1 for n in oompah.parts[1].notes)  # the chord on 2 and 4
    with pytest.raises(ValueError, match="unknown texture"):
        harmonize(tune, bach_model, texture="waltz")


def test_pop909_corpus_and_a_chord_model_learned_from_lead_sheets() -> None:
    from cadenza.corpus import load_corpus

    pop = load_corpus("pop909")
    assert len(pop) == 735 and len(pop.split("test")) > 50
    s = pop.scores[0]
    assert s.key is not None and len(s.parts) == 1 and len(s.chords) > 20
    labels = symbol_labels(s, s.key)
    assert sum(c is not None for c in labels) > 0.9 * len(labels)
    model = HarmonyModel().fit(pop.split("train")[:60])
    change = np.exp(model.rhythm["4/4"])  # harmonic rhythm: chords change on the downbeat far more than on beat 2
    assert change[0] > 0.5 > 0.2 > change[1]
    problem = HarmonyProblem.of(s, model, key=s.key)
    assert problem.positions is not None and list(problem.positions[1][:8]) == [0, 1, 2, 3, 0, 1, 2, 3]
    t = model.transitions(8, "major", problem.positions)
    assert t[4, 0, 0] < t[5, 0, 0]  # staying on the tonic costs more on a downbeat than on beat 2
    half = bar_positions(s, 2.0)  # two chords per bar: each slot takes its first beat's harmonic rhythm
    assert half is not None and list(half[1][:4]) == [0, 2, 0, 2]
    assert HarmonyProblem.of(s, model, key=s.key, chords_per_bar=2).positions is not None
    assert bar_positions(s, 4 / 3) is None and bar_positions(s, 0.5) is None  # slots that straddle or split beats


def test_cli_trains_and_evaluates_on_a_folder_of_lead_sheets(tmp_path: Path) -> None:
    folder = tmp_path / "sheets"
    folder.mkdir()
    (folder / "tunes.abc").write_text(TUNES)
    env_py = [sys.executable, "-m", "cadenza"]
    out = subprocess.run([*env_py, "harmonize", "train", "--corpus", str(folder), "-o", str(tmp_path / "m")],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "m" / "model.json").is_file() and "label accuracy" in out.stdout
    r = subprocess.run([*env_py, "harmonize", "--evaluate", "--corpus", str(folder), "--model", str(tmp_path / "m"),
                        "--json"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["melodies"]["count"] == 3
    for method in ("viterbi", "ga", "tonic"):
        assert set(result[method]["sounded"]) == {"root", "root_triad", "root_quality"}
        assert result[method]["complete_chords"] > 0.9
    assert result["ga"]["share_at_optimum"] == 1.0
    bad = subprocess.run([*env_py, "harmonize", "train", "--corpus", str(tmp_path / "m"), "-o", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    melodies = tmp_path / "melodies"
    melodies.mkdir()
    (melodies / "tune.abc").write_text(re.sub(r'"[^"]*"', "", TUNES.split("X:2")[0]))  # no chord symbols
    none = subprocess.run([*env_py, "harmonize", "--evaluate", "--corpus", str(melodies)], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert none.returncode == 2 and "no lead sheet with chord symbols" in none.stderr
