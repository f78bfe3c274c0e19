import pytest

from cadenza.core import Key, Note, Part, Score, ScoreError, TimeSignature, make_score


def test_key_parse_and_scale() -> None:
    assert Key.parse("D minor") == Key(2, "minor")
    assert Key.parse("Bb") == Key(10, "major")
    assert Key.parse("f#") == Key(6, "minor")
    assert Key.parse("Am") == Key(9, "minor")
    assert Key(0).scale == (0, 2, 4, 5, 7, 9, 11)
    assert Key(9, "minor").scale == (9, 11, 0, 2, 4, 5, 7)
    assert Key(2, "minor").name == "D minor"
    with pytest.raises(ScoreError):
        Key.parse("H major")
    with pytest.raises(ScoreError):
        Key(0, "lydian")


def test_time_signature() -> None:
    assert TimeSignature(3, 4).bar_length == 3.0
    assert TimeSignature(6, 8).bar_length == 3.0
    assert TimeSignature(6, 8).beat_length == 1.5
    assert TimeSignature.parse("C") == TimeSignature(4, 4)
    with pytest.raises(ScoreError):
        TimeSignature(3, 5)
    with pytest.raises(ScoreError):
        TimeSignature.parse("three/four")


def test_part_sorts_and_transposes() -> None:
    part = Part((Note(64, 1.0, 1.0), Note(60, 0.0, 1.0)))
    assert [n.pitch for n in part.notes] == [60, 64]
    s = Score((part,), key=Key(0))
    up = s.transpose(2)
    assert [n.pitch for n in up.parts[0].notes] == [62, 66]
    assert up.key == Key(2)
    with pytest.raises(ScoreError):
        s.transpose(100)


def test_bars_and_beat_strength_with_pickup() -> None:
    s = make_score([[(67, 0, 1), (72, 1, 3), (71, 4, 3)]], time_signature=TimeSignature(3, 4)).replace(pickup=1.0)
    assert list(s.bars()) == [(0.0, 1.0), (1.0, 4.0), (4.0, 7.0)]
    assert s.beat_strength(1.0) == 1.0
    assert s.beat_strength(2.0) == 0.5
    assert s.beat_strength(2.5) == 0.25
    assert s.beat_strength(2.25) == 0.125
