"""The page of `make demo`: items and sections, the HTML, and the helpers that section modules share.

A section module (`cadenza.demo.<name>`) has `build(out_dir) -> Section`; `cadenza.registry.DEMO_SECTIONS` lists
them in page order. In an intro or an item's note, text between back-ticks is shown as code.
"""

from __future__ import annotations

import html
import importlib
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadenza.core.score import Score
from cadenza.io.files import write_text_atomic


@dataclass
class Item:
    """One example on the page: a title, audio, a picture, a table of figures and some text."""

    title: str
    audio: str | None = None  # path relative to the page
    image: str | None = None
    table: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # shown preformatted (ABC, token strings)
    note: str = ""


@dataclass
class Section:
    title: str
    intro: str
    items: list[Item] = field(default_factory=list)


def score_item(
    score: Score, out_dir: Path, stem: str, *, title: str, program: int | None = None, note: str = ""
) -> Item:
    """Render a score to WAV, draw its piano roll, analyse it, and write its MIDI: one page item."""
    from cadenza import io
    from cadenza.evaluate import analyze
    from cadenza.evaluate.plots import piano_roll_png
    from cadenza.render import render_score

    render_score(score, out_dir / f"{stem}.wav", sample_rate=22050, program=program)
    piano_roll_png(score, out_dir / f"{stem}.png", title=title)
    io.write(score, out_dir / f"{stem}.mid")
    a = analyze(score)
    m = a["metrics"]
    table = {
        "key": f"{a['key']} ({a['key_source']})",
        "meter / tempo": f"{a['meter']}, {a['tempo_bpm']:g} bpm",
        "parts": ", ".join(a["parts"]),
        "notes / length": f"{a['notes']} notes, {a['duration_s']:.1f} s",
        "pitch range": f"{a['lowest_pitch']}..{a['highest_pitch']} ({m['pitch_range']:g} semitones)",
        "pitch-class entropy": f"{m['pitch_class_entropy']:.3f} bits (max 3.585)",
        "scale consistency": f"{m['scale_consistency']:.3f}",
        "polyphony": f"{m['polyphony']:.2f} voices sounding on average",
        "groove consistency": f"{m['groove_consistency']:.3f}",
        "empty-beat rate": f"{m['empty_beat_rate']:.3f}",
        "MIDI": f'<a href="{stem}.mid">{stem}.mid</a>',
    }
    return Item(title, audio=f"{stem}.wav", image=f"{stem}.png", table=table, note=note)


def held_out_tune(index: int) -> Score:
    """Tune `index` of the test split of essen/erk (never seen by a model trained on its train split)."""
    from cadenza.corpus import corpus_piece

    return corpus_piece("essen/erk", index, split="test", progress=False)


def render_clip(score: Score, program: str, sample_rate: int = 16000, soundfont: str | None = None) -> Any:
    """A score rendered with one GM instrument at `sample_rate`, without FluidSynth's reverb, silence trimmed;
    `soundfont`: a file or a name (fluidr3, the default; timgm6mb; musescore)."""
    import tempfile

    from cadenza.audio.datasets import trim_silence
    from cadenza.io.audio import read_audio
    from cadenza.render import program_number, render_score

    with tempfile.TemporaryDirectory() as tmp:
        wav = render_score(score, Path(tmp) / "x.wav", sample_rate=sample_rate, program=program_number(program),
                           soundfont=soundfont, effects=False)  # fmt: skip
        return trim_silence(read_audio(wav, mono=True))


def prose(text: str) -> str:
    """Escaped text in which `back-ticked` spans become code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _render_item(item: Item) -> str:
    parts = [f"<h3>{html.escape(item.title)}</h3>"]
    if item.note:
        parts.append(f'<p class="note">{prose(item.note)}</p>')
    if item.audio:
        parts.append(f'<audio controls preload="none" src="{html.escape(item.audio)}"></audio>')
    if item.image:
        parts.append(f'<img src="{html.escape(item.image)}" alt="{html.escape(item.title)}">')
    if item.table:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in item.table.items())
        parts.append(f"<table>{rows}</table>")
    if item.text:
        parts.append(f"<pre>{html.escape(item.text)}</pre>")
    return '<div class="item">' + "".join(parts) + "</div>"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; padding: 0 1em; }
h1 { margin-bottom: 0; } .sub { color: #666; margin-top: .2em; }
section { border-top: 2px solid #00798c; margin-top: 2em; }
.item { margin: 1.2em 0; } img { max-width: 100%; display: block; margin: .5em 0; }
audio { width: 100%; } table { border-collapse: collapse; font-size: 90%; }
th { text-align: left; padding: 2px 12px 2px 0; color: #555; font-weight: normal; } td { padding: 2px 0; }
pre { background: #f5f5f5; padding: .6em; overflow-x: auto; font-size: 85%; }
.note { color: #555; font-style: italic; margin: .2em 0; } .error { color: #b00; }
code { background: #f0f0f0; padding: 0 .25em; border-radius: 3px; font-size: 90%; }
"""


def section_modules(only: list[str] | None = None) -> list[str]:
    """The section modules of the page, in order (`only`: those whose last name is listed)."""
    from cadenza.errors import UnknownNameError
    from cadenza.registry import DEMO_SECTIONS

    if not only:
        return list(DEMO_SECTIONS)
    names = {m.rsplit(".", 1)[-1]: m for m in DEMO_SECTIONS}
    for name in only:
        if name not in names:
            raise UnknownNameError("demo section", name, list(names))
    return [m for m in DEMO_SECTIONS if m.rsplit(".", 1)[-1] in only]


Builder = Callable[[Path], Section]


def build_demo(out_dir: Path, only: list[str] | None = None, sections: list[str | Builder] | None = None) -> Path:
    """Build every section (or those named in `only`) into `out_dir` and write `out_dir/index.html`.

    `sections`: section modules or builder functions to use instead of the registry's (tests)."""
    chosen = sections if sections is not None else section_modules(only)
    out_dir.mkdir(parents=True, exist_ok=True)
    body = []
    for section in chosen:
        t0 = time.perf_counter()
        name = section.rsplit(".", 1)[-1] if isinstance(section, str) else section.__name__
        try:
            builder = importlib.import_module(section).build if isinstance(section, str) else section
            sec = builder(out_dir)
            items = "".join(_render_item(i) for i in sec.items)
            body.append(f"<section><h2>{html.escape(sec.title)}</h2><p>{prose(sec.intro)}</p>{items}</section>")
            print(f"demo: {sec.title} ({time.perf_counter() - t0:.1f} s)")
        except Exception as e:  # one broken section must not hide the others
            tb = traceback.format_exc(limit=3)
            body.append(f'<section><h2>{name}</h2><p class="error">failed: {html.escape(str(e))}</p>'
                        f"<pre>{html.escape(tb)}</pre></section>")  # fmt: skip
            print(f"demo: {name} FAILED: {e}")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>cadenza demo</title>"
        f"<style>{STYLE}</style></head><body><h1>cadenza</h1>"
        "<p class='sub'>Generative music AI, end to end on a laptop CPU, offline. Built by <code>make demo</code> "
        f"on {time.strftime('%Y-%m-%d %H:%M')}.</p>{''.join(body)}</body></html>"
    )
    path = out_dir / "index.html"
    write_text_atomic(path, page)
    return path


def held_out_chorale(index: int) -> Score:
    """Chorale `index` of the test split of the bach corpus."""
    from cadenza.corpus import corpus_piece

    return corpus_piece("bach", index, split="test", progress=False)
