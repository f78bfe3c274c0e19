import pytest

from cadenza.core import Key
from cadenza.corpus import jsb_raw
from cadenza.encodings import ABCText, EncodingError, MelodyGrid, SATBGrid, to_c, transpositions
from cadenza.encodings.remi import REMI


def notes(part):  # type: ignore[no-untyped-def]
    return [(n.pitch, n.onset, n.duration) for n in part.notes]


def test_melody_grid_round_trip_folk_and_soprano(essen_scores, bach_scores) -> None:  # type: ignore[no-untyped-def]
    enc = MelodyGrid()
    checked = 0
    for s in essen_scores + bach_scores:
        try:
            ids = enc.encode(s)
        except EncodingError:
            continue  # triplets and the like do not fit the 16th grid
        assert notes(enc.decode(ids).parts[0]) == notes(s.melody())
        checked += 1
    assert checked >= 30


def test_melody_grid_symbols() -> None:
    from cadenza.core import make_score

    s = make_score([[(60, 0, 1), (62, 1.5, 0.5)]])
    assert MelodyGrid().symbols(s) == ["60", "_", "_", "_", "r", "_", "62", "_"]
    with pytest.raises(EncodingError, match="off the 16th-note grid"):
        MelodyGrid().symbols(make_score([[(60, 0, 1 / 3)]]))


def test_melody_grid_corpus_stream(essen_scores) -> None:  # type: ignore[no-untyped-def]
    enc = MelodyGrid()
    ids, skipped = enc.encode_corpus(essen_scores)
    assert ids.count(enc.token_id("/")) == len(essen_scores) - skipped
    assert len(enc.vocab) == 131


def test_satb_grid_round_trip_jsb_and_bach(bach_scores) -> None:  # type: ignore[no-untyped-def]
    enc = SATBGrid()
    for grid in jsb_raw()["valid"]:
        ids = [p + 1 for step in grid for p in step]
        assert enc.encode(enc.decode(ids)) == ids
    for s in bach_scores:
        if len(s.parts) != 4:
            continue
        ids = enc.encode(s)
        assert enc.encode(enc.decode(ids)) == ids
        assert len(ids) == 4 * round(s.end / 0.25)


def test_satb_grid_needs_four_parts(essen_scores) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EncodingError, match="needs 4"):
        SATBGrid().encode(essen_scores[0])


def test_remi_round_trip(bach_scores) -> None:  # type: ignore[no-untyped-def]
    enc = REMI()
    for s in bach_scores[:5]:
        back = enc.decode(enc.encode(s))
        assert sorted((n.pitch, n.onset, n.duration) for n in back.notes) == sorted(
            (n.pitch, n.onset, n.duration) for n in s.notes
        )


def test_abc_text_round_trip(essen_scores) -> None:  # type: ignore[no-untyped-def]
    enc = ABCText()
    for s in essen_scores[:10]:
        ids = enc.encode(s)
        assert max(ids) < len(enc.vocab)
        assert notes(enc.decode(ids).parts[0]) == notes(s.melody())


def test_to_c_and_back(bach_scores, essen_scores) -> None:  # type: ignore[no-untyped-def]
    for s in bach_scores + essen_scores[:10]:
        c, shift = to_c(s)
        assert c.key in (Key(0, "major"), Key(9, "minor"))
        assert -6 <= shift <= 5
        assert c.transpose(-shift).parts == s.parts


def test_transpositions_stay_in_range(bach_scores) -> None:  # type: ignore[no-untyped-def]
    s = bach_scores[0]
    lo, hi = s.pitch_range()
    out = list(transpositions(s, range(-6, 7), pitch_range=(lo - 2, hi + 3)))
    assert len(out) == 6  # shifts -2..+3
    assert all(lo - 2 <= t.pitch_range()[0] and t.pitch_range()[1] <= hi + 3 for t in out)
