from pathlib import Path

from cadenza.demo import Section, build_demo, section_corpora


def test_demo_page_has_players_and_pictures(tmp_path: Path) -> None:
    def broken(out_dir: Path) -> Section:
        raise RuntimeError("this section is broken")

    page = build_demo(tmp_path, [section_corpora, broken])
    html = page.read_text()
    assert html.count("<audio") == 2 and html.count("<img") == 2  # the corpora section alone
    assert "F# minor" in html  # the chorale's analysis
    assert "this section is broken" in html  # a failing section is shown, not fatal
    for name in ("bach.wav", "bach.png", "essen.wav", "essen.png", "bach.mid"):
        assert (tmp_path / name).stat().st_size > 0


def test_noiseband_section_plays_the_shipped_model(tmp_path: Path) -> None:
    from cadenza.demo import section_noiseband

    page = build_demo(tmp_path, [section_noiseband])
    html = page.read_text()
    assert html.count("<audio") == 3 and html.count("<img") == 2 and "failed" not in html
    for name in ("nbn_drawn.wav", "nbn_wind_copy.wav", "nbn_drawn.png"):
        assert (tmp_path / name).stat().st_size > 1000
