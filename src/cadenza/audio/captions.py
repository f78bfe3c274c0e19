"""Captions that are true of the audio they describe, in many wordings: what cadenza's CLAP model learns from.

A clip's facts come from its dataset manifest (`cadenza data render` and `cadenza data textures` know what they
rendered): the instrument and its family, the register, the tempo, the key and mode, the meter, the dynamics,
whether it is a melody or a chorale; for a texture, its kind and its parameters. `caption(entry, rng)` words them
in one of several templates with paraphrases, so that the model learns the facts and not one sentence;
`canonical_caption(entry)` is the fixed wording the evaluation uses.

    >>> canonical_caption({"instrument": "Violin", "program": 40, "tempo_bpm": 70, "key": "D minor", ...})
    'a slow violin melody in D minor, 3/4, played softly in the high register'
"""

from __future__ import annotations

from typing import Any

import numpy as np

# General MIDI families (programs 8 at a time), in plain words
FAMILIES = ("piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "strings", "brass", "reed",
            "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects")  # fmt: skip

TEXTURE_WORDS = {  # kind -> (noun, the parameter, words for its low / middle / high values)
    "wind": ("wind", "strength", ("a light breeze", "wind", "a strong gusty wind")),
    "rain": ("rain", "density", ("light rain", "rain", "heavy rain")),
    "engine": ("engine", "rate", ("an idling engine", "an engine running", "an engine racing")),
    "bugs": ("insects", "density", ("a few chirping insects", "chirping insects", "a loud chorus of insects")),
    "fm": ("FM synthesizer drone", "index", ("a soft FM tone", "an FM synthesizer drone", "a harsh buzzing FM tone")),
    "applause": ("applause", "density", ("scattered clapping", "applause", "thunderous applause")),
}  # fmt: skip


def family(program: int) -> str:
    return FAMILIES[program // 8]


def tempo_word(bpm: float) -> str:
    return "slow" if bpm < 76 else "moderate" if bpm < 108 else "lively" if bpm < 140 else "fast"


def dynamics_word(velocity: float) -> str:
    return "softly" if velocity < 70 else "moderately loud" if velocity < 95 else "loudly"


def register_word(mean_pitch: float) -> str:
    return "low" if mean_pitch < 55 else "middle" if mean_pitch < 72 else "high"


def _level(x: float) -> int:
    return 0 if x < 0.33 else 1 if x < 0.67 else 2


def facts(entry: dict[str, Any]) -> dict[str, str]:
    """The words a manifest entry supports: instrument, family, what, tempo, bpm, key, meter, dynamics, register
    (music), or texture and its description (textures)."""
    if "kind" in entry:
        noun, param, words = TEXTURE_WORDS.get(entry["kind"], (entry["kind"], "", ("", entry["kind"], "")))
        value = float(entry.get("param_mean", {}).get(param, 0.5))
        return {"texture": noun, "description": words[_level(value)] or noun}
    out = {
        "instrument": str(entry["instrument"]).lower(),
        "family": family(int(entry["program"])),
        "what": "melody" if int(entry.get("n_parts", 1)) == 1 else "four-part chorale",
        "tempo": tempo_word(float(entry["tempo_bpm"])),
        "bpm": f"{round(float(entry['tempo_bpm']))} bpm",
        "meter": str(entry.get("meter", "")),
        "dynamics": dynamics_word(float(entry.get("velocity", 80))),
    }
    if entry.get("key"):
        out["key"] = str(entry["key"])
    if "mean_pitch" in entry:
        out["register"] = register_word(float(entry["mean_pitch"]))
    return out


MUSIC_TEMPLATES = (
    "a {tempo} {instrument} {what} in {key}, {meter}, played {dynamics} in the {register} register",
    "{instrument}, {tempo} tempo, {key}, {meter}",
    "solo {instrument} playing a {tempo} {what}",
    "a {what} for {instrument} in {key}",
    "{instrument} ({family}), {bpm}, {dynamics}",
    "the sound of a {instrument}, {register} register",
    "a {family} instrument: {instrument}, {tempo}, in {key}",
    "{tempo} {what} in {meter} time on the {instrument}, {dynamics}",
    "{instrument} music at {bpm} in {key}",
    "a recording of a {instrument}",
)
TEXTURE_TEMPLATES = (
    "{description}",
    "the sound of {description}",
    "a field recording of {description}",
    "{texture}: {description}",
    "ambient {texture} noise, {description}",
)


def _fill(template: str, f: dict[str, str]) -> str | None:
    try:
        return template.format(**f)
    except KeyError:  # a fact this clip lacks (no key, no register)
        return None


def caption(entry: dict[str, Any], rng: np.random.Generator) -> str:
    """A random true wording of the clip (training)."""
    f = facts(entry)
    templates = TEXTURE_TEMPLATES if "texture" in f else MUSIC_TEMPLATES
    options = [c for t in templates if (c := _fill(t, f))]
    return str(options[int(rng.integers(len(options)))])


def canonical_caption(entry: dict[str, Any]) -> str:
    """The fixed wording the evaluation uses (the first template the clip's facts fill)."""
    f = facts(entry)
    templates = TEXTURE_TEMPLATES[1:] if "texture" in f else MUSIC_TEMPLATES
    return next(c for t in templates if (c := _fill(t, f)))


def all_captions(entry: dict[str, Any]) -> list[str]:
    """Every wording of the clip (the text embeddings are computed once for all of them)."""
    f = facts(entry)
    templates = TEXTURE_TEMPLATES if "texture" in f else MUSIC_TEMPLATES
    return [c for t in templates if (c := _fill(t, f))]
