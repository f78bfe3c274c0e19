"""Server-rendered pages: Jinja2 templates from this package's `templates/` folder (autoescaped)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@cache
def environment() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined)  # fmt: skip


def render(request: Any, name: str, context: dict[str, Any], status: int = 200) -> Any:
    from starlette.responses import HTMLResponse

    html = environment().get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
