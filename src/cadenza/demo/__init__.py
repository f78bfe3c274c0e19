"""The demo page (`make demo`): one HTML file to open in a browser, to listen and look.

`page.py` holds the page itself (items, sections, HTML); each technique is one module here with a
`build(out_dir) -> Section` function, listed in page order by `cadenza.registry.DEMO_SECTIONS`. A section that
fails shows its error on the page instead of sinking the others.
"""

from cadenza.demo.page import Item, Section, build_demo, score_item

__all__ = ["Item", "Section", "build_demo", "score_item"]
