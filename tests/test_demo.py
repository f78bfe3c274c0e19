from pathlib import Path

import pytest

from cadenza.demo import Section, build_demo
from cadenza.errors import UnknownNameError
from cadenza.registry import DEMO_SECTIONS


def test_demo_page_has_players_and_pictures(tmp_path: Path) -> None:
    def broken(out_dir: Path) -> Section:
        raise RuntimeError("this section is broken")

    page = build_demo(tmp_path, sections=["cadenza.demo.corpora", broken])
    html = page.read_text()
    assert html.count("<audio") == 2 and html.count("<img") == 2  # the corpora section alone
    assert "F# minor" in html  # the chorale's analysis
    assert "this section is broken" in html  # a failing section is shown, not fatal
    for name in ("bach.wav", "bach.png", "essen.wav", "essen.png", "bach.mid"):
        assert (tmp_path / name).stat().st_size > 0


def test_noisebandnet_section_plays_the_shipped_model(tmp_path: Path) -> None:
    page = build_demo(tmp_path, only=["noisebandnet"])
    html = page.read_text()
    assert html.count("<audio") == 3 and html.count("<img") == 2 and "failed" not in html
    assert "<code>cadenza noisebandnet generate --control CURVE.csv -o OUT.wav</code>" in html  # commands as code
    for name in ("nbn_drawn.wav", "nbn_wind_copy.wav", "nbn_drawn.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_every_registered_section_has_a_builder() -> None:
    import importlib

    for module in DEMO_SECTIONS:
        assert callable(importlib.import_module(module).build), module
    with pytest.raises(UnknownNameError, match="unknown demo section 'nope'"):
        build_demo(Path("unused"), only=["nope"])
