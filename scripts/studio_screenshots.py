"""The README's studio screenshots, taken in headless chromium from a live studio: a technique's result page, a
MUSHRA trial (a real test: held-out renders through two codecs), its results and the attribution page.

usage: python scripts/studio_screenshots.py [-o docs/studio]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def make_test(root: Path) -> Path:
    """A MUSHRA test: three held-out Essen tunes rendered as flute, violin and trumpet, through the two codecs."""
    import torch

    from cadenza.audio.codec import Codec
    from cadenza.core.audio import AudioClip
    from cadenza.demo.page import held_out_tune, render_clip
    from cadenza.io.audio import write_audio
    from cadenza.listen.design import create_test

    codecs = {"codec-vocos": Codec.from_pretrained("codec-vocos"), "codec": Codec.from_pretrained("codec")}
    for i, program in enumerate(["Flute", "Violin", "Trumpet"]):
        y = render_clip(held_out_tune(i), program).samples[0, : 16000 * 6]
        write_audio(AudioClip(y, 16000), root / "ref" / f"tune{i}.wav")
        for name, codec in codecs.items():
            x = torch.tensor(y)[None, None]
            out = codec.decode_chunked(codec.encode_chunked(x, codec.cfg.codebooks_for(3.0)))[0, 0, : len(y)]
            write_audio(AudioClip(out.numpy().astype(np.float32), 16000), root / name / f"tune{i}.wav")
    (root / "test.toml").write_text(
        'name = "Two codecs at 3 kbps"\ntype = "mushra"\nreference = "ref"\n'
        'sample_rate = 16000\n[conditions]\nvocos = "codec-vocos"\ndac = "codec"\n'
    )
    create_test(root / "test.toml", root / "ws" / "tests" / "codecs")
    return root / "ws"


def main() -> None:
    from playwright.sync_api import sync_playwright

    from cadenza import io
    from cadenza.demo.page import held_out_tune
    from cadenza.listen.loadtest import serve
    from cadenza.studio.app import create_app

    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", default="docs/studio")
    out = Path(ap.parse_args().output)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ws = make_test(Path(tmp))
        io.write(held_out_tune(7), Path(tmp) / "tune.mid")
        app = create_app(ws)
        with serve(app) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 800}, bypass_csp=True)
            page.goto(base)
            page.screenshot(path=str(out / "index.png"), full_page=True)
            page.goto(f"{base}/t/text2music")
            page.fill("#f-prompt", "a slow cello melody in D minor")
            page.click("#generate")
            page.wait_for_selector("#result:not([hidden])", timeout=300_000)
            page.screenshot(path=str(out / "text2music.png"), full_page=True)
            test = next(iter(app.state.studio.listen.tests.values()))
            page.goto(f"{base}/listen/{test.manifest.id}")
            page.click("#start")
            page.wait_for_selector("#status:text('ready')")
            for k, slot in enumerate("ABCDE"):
                page.click(f"#play-{slot}")
                page.fill(f"#score-{slot}", str([100, 35, 70, 55, 85][k]))
                page.dispatch_event(f"#score-{slot}", "input")
            time.sleep(0.3)
            page.screenshot(path=str(out / "mushra.png"))
            page.goto(f"{base}/attribute")
            page.set_input_files("#file", str(Path(tmp) / "tune.mid"))
            page.click("#generate")
            page.wait_for_selector("#result:not([hidden])", timeout=60_000)
            page.screenshot(path=str(out / "attribute.png"), full_page=True)
            browser.close()
        app.state.studio.close()
    print(f"wrote {out}/index.png, text2music.png, mushra.png, attribute.png")


if __name__ == "__main__":
    main()
