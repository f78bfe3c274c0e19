from pathlib import Path

import pytest

from cadenza.corpus import list_corpora, load_corpus, load_jsb, split_for
from cadenza.errors import InputError, UnknownNameError


def test_named_corpora_listed() -> None:
    names = list_corpora()
    for n in ("bach", "essen", "oneills", "ryans", "airds", "jsb"):
        assert n in names


def test_bach_subset_cold_then_warm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second load parses nothing: counted, not timed (a busy machine makes any timing lie), from a cache of its
    own (another test may have filled the session's)."""
    from cadenza.corpus import cache

    monkeypatch.setenv("CADENZA_CACHE", str(tmp_path))
    parsed: list[Path] = []
    parse_one = cache._parse_one
    monkeypatch.setattr(cache, "_parse_one", lambda f: parsed.append(f) or parse_one(f))
    cold = load_corpus("bach", limit=8, progress=False, workers=1)
    n_cold = len(parsed)
    warm = load_corpus("bach", limit=8, progress=False, workers=1)
    assert len(cold) == 8 and n_cold >= 1
    assert len(parsed) == n_cold  # the cache is used
    assert [s.parts for s in warm.scores] == [s.parts for s in cold.scores]
    assert [s.key for s in warm.scores] == [s.key for s in cold.scores]
    assert all(len(s.parts) >= 4 for s in cold.scores)
    assert cold.scores[0].source.startswith("bach/")


def test_splits_are_deterministic_and_disjoint() -> None:
    c = load_corpus("bach", limit=8, progress=False)
    assert c.split_of == [split_for(s.source) for s in c.scores]
    assert sum(len(c.split(x)) for x in ("train", "valid", "test")) == len(c)
    ids = [f"piece{i}" for i in range(2000)]
    shares = [sum(split_for(i) == sp for i in ids) / len(ids) for sp in ("train", "valid", "test")]
    assert shares[0] == pytest.approx(0.8, abs=0.03) and shares[1] == pytest.approx(0.1, abs=0.02)


def test_jsb_split_sizes() -> None:
    jsb = load_jsb()
    assert [len(jsb.split(s)) for s in ("train", "valid", "test")] == [229, 76, 77]
    assert all(len(s.parts) == 4 for s in jsb.scores)


def test_essen_sub_collection(m21: Path) -> None:
    with pytest.raises(UnknownNameError, match="essen/nope"):
        load_corpus("essen/nope")


def test_unknown_corpus() -> None:
    with pytest.raises(UnknownNameError, match="unknown corpus 'bachh'"):
        load_corpus("bachh")


def test_folder_with_junk(tmp_path: Path, bach_scores) -> None:  # type: ignore[no-untyped-def]
    from cadenza import io

    io.write(bach_scores[0], tmp_path / "a.mid")
    io.write(bach_scores[1], tmp_path / "sub" / "b.xml")
    (tmp_path / "junk.mid").write_bytes(b"garbage")
    (tmp_path / "empty.abc").write_text("")
    (tmp_path / "readme.txt").write_text("not music")
    good = "X:1\nT:good\nM:4/4\nL:1/4\nK:C\nC D E F | G4 |]\n"
    (tmp_path / "book.abc").write_text(good + "\nX:2\nT:bad\nM:4/4\nL:1/8\nK:C\nC D | zz9/0 |]\n")
    c = load_corpus(str(tmp_path), progress=False)
    assert len(c) == 3
    assert sorted(Path(f).name for f, _ in c.skipped) == ["book.abc#1", "empty.abc", "junk.mid"]


def test_folder_of_only_junk(tmp_path: Path) -> None:
    (tmp_path / "junk.mid").write_bytes(b"garbage")
    with pytest.raises(InputError, match="no readable music"):
        load_corpus(str(tmp_path), progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no MIDI"):
        load_corpus(str(empty))
