from pathlib import Path

import pytest
import soundfile as sf

from cadenza.core import make_score
from cadenza.errors import InputError, UnknownNameError
from cadenza.render import find_soundfont, program_number, render_score


def test_program_names() -> None:
    assert program_number("violin") == 40
    assert program_number("Acoustic Grand Piano") == 0
    assert program_number("flute") == 73
    assert program_number("choir") == 52
    assert program_number("41") == 41
    with pytest.raises(UnknownNameError):
        program_number("theremin")


def test_render_wav(tmp_path: Path) -> None:
    s = make_score([[(60, 0, 1), (64, 1, 1), (67, 2, 2)]], tempo_bpm=120.0)
    out = render_score(s, tmp_path / "a.wav", sample_rate=22050, program=40)
    audio, sr = sf.read(out)
    assert sr == 22050
    assert audio.shape[0] >= 2.0 * sr  # 4 quarters at 120 bpm = 2 s, plus the release tail
    assert abs(audio).max() > 0.01
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_missing_soundfont(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="SoundFont not found"):
        find_soundfont(tmp_path / "none.sf2")
    s = make_score([[(60, 0, 1)]])
    with pytest.raises(InputError):
        render_score(s, tmp_path / "a.wav", soundfont=tmp_path / "none.sf2")
    assert not (tmp_path / "a.wav").exists()
