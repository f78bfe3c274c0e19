"""MuPT's synchronized multi-track ABC (SMT-ABC), and the newline-free text of its 8192-context models.

Multi-voice ABC writes each voice's bars apart (`V:1` then many bars, `V:2` then many bars), so a model reading
left to right meets bar 1 of voice 2 long after bar 1 of voice 1. SMT-ABC (Qu et al. 2024, "MuPT") puts the
bars of the same index together: one line per bar index, the voices' bars concatenated, each marked with its
inline voice field, and the line wrapped in `<|>`:

    X:1                       X:1
    M:2/4                     M:2/4
    L:1/8                     L:1/8
    K:G                       K:G
    V:1                 ->    V:1
    GABc|d2d2|                V:2
    V:2                       <|>[V:1]GABc|[V:2]G,2D,2|<|>
    G,2D,2|B,2G,2|            <|>[V:1]d2d2|[V:2]B,2G,2|<|>

`to_smt` and `from_smt` convert both ways (a round trip gives back the same notes); `to_newline_free` and
`from_newline_free` write a tune on one line with `<n>` for each newline, the prompt format of MuPT's
8192-token models.
"""

from __future__ import annotations

import re

from cadenza.encodings.base import EncodingError

WRAP = "<|>"
NEWLINE = "<n>"
_BARLINE = re.compile(r"(?::*\[?\|+\]?:*|::)")
_VOICE_LINE = re.compile(r"^V:\s*(\S+)(.*)$")
_INLINE_VOICE = re.compile(r"^\[V:\s*([^\]\s]+)[^\]]*\]")


def split_bars(text: str) -> list[str]:
    """The bars of one voice's body text, each ending with its barline (a last bar without one kept too); a
    barline with no music before it (an opening `|:`) begins the next bar."""
    flat = " ".join(text.split())
    bars, start = [], 0
    for m in _BARLINE.finditer(flat):
        if m.end() == m.start():
            continue
        if not flat[start : m.start()].strip():
            continue  # an opening barline: it stays at the start of the bar that follows
        bars.append(flat[start : m.end()].strip())
        start = m.end()
    if flat[start:].strip():
        bars.append(flat[start:].strip())
    return [b for b in bars if b]


def _split_tune(text: str) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(header lines up to K:, voice declarations, body text per voice in order of appearance)."""
    header: list[str] = []
    declared: list[str] = []
    voices: dict[str, list[str]] = {}
    current: str | None = None
    in_body = False
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("%"):
            continue
        m = _VOICE_LINE.match(s)
        if m:
            vid = m.group(1)
            if vid not in voices:
                voices[vid] = []
                declared.append(s)
            current = vid
            continue
        if not in_body:
            header.append(s)
            in_body = s.startswith("K:")
            continue
        mi = _INLINE_VOICE.match(s)
        if mi:
            current = mi.group(1)
            voices.setdefault(current, [])
            s = s[mi.end() :].strip()
        if current is None:
            current = "1"
            voices.setdefault(current, [])
        voices[current].append(s)
    if not in_body:
        raise EncodingError("tune has no K: field")
    return header, declared, voices


def to_smt(text: str) -> str:
    """A multi-voice ABC tune in SMT-ABC: the header, the voice declarations, then one `<|>`-wrapped line per
    bar index with every voice's bar of that index (a voice with fewer bars is left out of the later lines).

    Raises:
        EncodingError: no K: field, or no voice with any bar.
    """
    header, declared, voices = _split_tune(text)
    bars = {v: split_bars(" ".join(lines)) for v, lines in voices.items()}
    n = max((len(b) for b in bars.values()), default=0)
    if n == 0:
        raise EncodingError("tune has no bars")
    lines = [*header[:-1], *declared, header[-1]]  # K: closes the header, after the voices
    for i in range(n):
        group = "".join(f"[V:{v}]{b[i]}" for v, b in bars.items() if i < len(b))
        lines.append(f"{WRAP}{group}{WRAP}")
    return "\n".join(lines) + "\n"


def from_smt(text: str, *, bars_per_line: int = 4) -> str:
    """Multi-voice ABC from SMT-ABC (each voice's bars after its `V:` line)."""
    header: list[str] = []
    voices: dict[str, list[str]] = {}
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if not s.startswith(WRAP):
            header.append(s)
            continue
        inner = s[len(WRAP) :]
        inner = inner[: -len(WRAP)] if inner.endswith(WRAP) else inner
        for bar in re.finditer(r"\[V:([^\]]+)\](.*?)(?=\[V:[^\]]+\]|$)", inner):
            voices.setdefault(bar.group(1), []).append(bar.group(2).strip())
    declared = {m.group(1): h for h in header if (m := _VOICE_LINE.match(h))}
    plain = [h for h in header if not _VOICE_LINE.match(h)]
    out = list(plain)
    for v, bars in voices.items():
        out.append(declared.get(v, f"V:{v}"))
        for i in range(0, len(bars), bars_per_line):
            out.append(" ".join(bars[i : i + bars_per_line]))
    return "\n".join(out) + "\n"


def to_newline_free(text: str) -> str:
    """The tune on one line, each newline written `<n>` (MuPT's 8192-context prompt format)."""
    return text.rstrip("\n").replace("\n", NEWLINE)


def from_newline_free(text: str) -> str:
    return text.replace(NEWLINE, "\n").rstrip("\n") + "\n"
