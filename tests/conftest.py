"""Shared fixtures: a private parse cache per test session and a few real corpus files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cadenza.corpus import music21_corpus_dir


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["CADENZA_CACHE"] = str(tmp_path_factory.mktemp("cadenza-cache"))


@pytest.fixture(scope="session")
def m21() -> Path:
    return music21_corpus_dir()


@pytest.fixture(scope="session")
def bach_files(m21: Path) -> list[Path]:
    """Ten real chorales (MusicXML)."""
    names = ["bwv66.6", "bwv269", "bwv347", "bwv153.1", "bwv86.6", "bwv267", "bwv281", "bwv17.7", "bwv40.8", "bwv26.6"]
    return [m21 / "bach" / f"{n}.mxl" for n in names]


@pytest.fixture(scope="session")
def bach_scores(bach_files: list[Path]):  # type: ignore[no-untyped-def]
    from cadenza import io

    return [io.read_score(f) for f in bach_files]


@pytest.fixture(scope="session")
def essen_scores(m21: Path):  # type: ignore[no-untyped-def]
    """The 27 tunes of Essen's erk5.abc."""
    from cadenza import io

    return io.read(m21 / "essenFolksong" / "erk5.abc")
