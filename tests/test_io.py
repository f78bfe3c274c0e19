"""Round trips over real corpus files and the errors a user meets with bad files."""

from pathlib import Path

import pytest

from cadenza import io
from cadenza.errors import InputError


def triples(score):  # type: ignore[no-untyped-def]
    return [[(n.pitch, n.onset, n.duration) for n in p.notes] for p in score.parts]


def test_read_musicxml_chorale(bach_scores) -> None:  # type: ignore[no-untyped-def]
    s = bach_scores[0]  # BWV 66.6
    assert [p.name for p in s.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert s.key is not None and s.key.name == "F# minor"
    assert str(s.time_signature) == "4/4"
    assert any(n.fermata for n in s.parts[0].notes)
    assert s.pickup == 1.0


@pytest.mark.parametrize("suffix", [".mid", ".xml", ".mxl", ".abc"])
def test_round_trip_chorales(bach_scores, tmp_path: Path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    for i, s in enumerate(bach_scores[:5]):
        out = tmp_path / f"c{i}{suffix}"
        io.write(s, out)
        back = io.read_score(out)
        assert triples(back) == triples(s), f"{s.source} via {suffix}"
        if suffix != ".mid":  # MIDI has no pickup bar
            assert back.pickup == s.pickup
        assert back.key == s.key
        assert back.time_signature == s.time_signature
        if suffix in (".xml", ".mxl"):  # music21's ABC reader drops fermata decorations
            assert [n.fermata for n in back.parts[0].notes] == [n.fermata for n in s.parts[0].notes]


def test_abc_round_trip_folk_tunes(essen_scores, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert len(essen_scores) == 27
    out = tmp_path / "book.abc"
    io.write_abc(essen_scores, out)
    back = io.read(out)
    assert len(back) == len(essen_scores)
    for a, b in zip(essen_scores, back):
        assert triples(a) == triples(b), a.title
        assert (a.key, a.time_signature, a.pickup) == (b.key, b.time_signature, b.pickup)


def test_abc_accidentals_hold_to_the_bar_line() -> None:
    from cadenza.core import Key, TimeSignature, make_score
    from cadenza.io.abc import parse_abc_tune, write_abc_text

    # F#, F natural, F# in one bar of C major, then F# in the next bar
    s = make_score([[(66, 0, 1), (65, 1, 1), (66, 2, 1), (60, 3, 1), (66, 4, 4)]], key=Key(0))
    s = s.replace(time_signature=TimeSignature(4, 4))
    text = write_abc_text(s)
    assert "^F2 =F2 ^F2 C2 | ^F8" in text  # explicit every time: music21 does not carry them
    assert triples(parse_abc_tune(text)) == triples(s)


def test_read_kern(m21: Path) -> None:
    s = io.read_score(m21 / "bach" / "bwv281.krn")
    assert len(s.parts) == 4 and s.n_notes > 100


def test_midi_keeps_programs_and_tempo(tmp_path: Path) -> None:
    from cadenza.core import Key, make_score

    s = make_score([[(60, 0, 1), (62, 1, 1)]], key=Key(7, "minor"), tempo_bpm=72.0)
    s = s.replace(parts=(s.parts[0].__class__(s.parts[0].notes, name="flute", program=73),))
    io.write(s, tmp_path / "a.mid")
    back = io.read_score(tmp_path / "a.mid")
    assert back.parts[0].program == 73 and back.parts[0].name == "flute"
    assert back.tempo_bpm == pytest.approx(72.0, abs=0.01)
    assert back.key == Key(7, "minor")


@pytest.mark.parametrize(
    "name,content,problem",
    [
        ("empty.mid", b"", "empty file"),
        ("junk.mid", b"this is not a midi file at all", "not a readable MIDI file"),
        ("empty.abc", b"   \n", "empty file"),
        ("syntax.abc", b"X:1\nT:bad\nM:4/4\nL:1/8\nK:C\nC D E F | zz9/0 |]\n", "ABC does not parse"),
        ("junk.xml", b"<score-partwise><part", "not a readable musicxml file"),
        ("notes.txt", b"C D E", "unsupported file type"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, name: str, content: bytes, problem: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        io.read(p)
    assert str(p) in str(e.value) and problem in str(e.value)


def test_truncated_midi(bach_scores, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.mid"
    io.write(bach_scores[0], good)
    bad = tmp_path / "truncated.mid"
    bad.write_bytes(good.read_bytes()[:60])
    with pytest.raises(InputError, match="truncated.mid"):
        io.read(bad)


def test_abc_without_notes_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "broken.abc"
    p.write_text("X:1\nT:broken\nM:4/4\nK:C\n|]\n")
    with pytest.raises(InputError, match="broken.abc"):
        io.read(p)


def test_write_refuses_unknown_suffix_and_leaves_nothing(bach_scores, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError):
        io.write(bach_scores[0], tmp_path / "x.pdf")
    assert list(tmp_path.iterdir()) == []
