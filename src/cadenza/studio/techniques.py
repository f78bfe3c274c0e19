"""What the studio offers: one `Technique` per page, each a form of settings and a function that makes music.

A technique's `run(settings, upload)` calls the library (the shipped model by its registry name) and returns a
`Score` (the studio writes MIDI, MusicXML, ABC, a WAV rendering and a piano roll) or an `AudioClip` (a WAV and a
spectrogram), with lines of text to show. It runs in the studio's worker process, where tqdm bars are the
progress bar on the page. Adding a technique to the studio is one entry in `TECHNIQUES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cadenza.errors import InputError

SCORE_SUFFIXES = (".mid", ".midi", ".xml", ".musicxml", ".mxl", ".abc")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass(frozen=True)
class Field:
    """One setting: `kind` is int, float, text or choice; numbers are checked against [low, high]."""

    name: str
    label: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def parse(self, raw: Any) -> Any:
        if raw is None or raw == "":
            return self.default
        try:
            if self.kind == "int":
                value: Any = int(raw)
            elif self.kind == "float":
                value = float(raw)
            else:
                value = str(raw).strip()[:400]
        except (TypeError, ValueError):
            raise InputError(self.name, f"{raw!r} is not a{'n integer' if self.kind == 'int' else ' number'}") from None
        if self.kind in ("int", "float") and not (self.low <= value <= self.high):  # type: ignore[operator]
            raise InputError(self.name, f"{value} is outside {self.low:g}..{self.high:g}")
        if self.kind == "choice" and value not in self.choices:
            raise InputError(self.name, f"{value!r} is not one of {', '.join(self.choices)}")
        return value


@dataclass(frozen=True)
class Technique:
    """One studio page. `upload`: None, "score" (a melody file) or "audio"; `upload_required` if it needs one."""

    name: str
    title: str
    group: str
    summary: str
    run: Callable[[dict[str, Any], Path | None], tuple[Any, list[str]]]
    fields: tuple[Field, ...] = ()
    upload: str | None = None
    upload_required: bool = False
    model: str = ""

    def parse(self, form: dict[str, Any]) -> dict[str, Any]:
        return {f.name: f.parse(form.get(f.name)) for f in self.fields}

    @property
    def suffixes(self) -> tuple[str, ...]:
        return {"score": SCORE_SUFFIXES, "audio": AUDIO_SUFFIXES}.get(self.upload or "", ())


SEED = Field("seed", "seed", "int", 1, 0, 2**31 - 1)
TEMPERATURE = Field("temperature", "temperature", "float", 1.0, 0.05, 3.0)


def _melody(upload: Path | None) -> Any:
    from cadenza import io

    if upload is None:
        from cadenza.demo.page import held_out_tune

        return held_out_tune(0)
    return io.read(upload)[0]


def _audio(upload: Path | None, sample_rate: int, seconds: float = 30.0) -> Any:
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import read_audio

    if upload is None:
        raise InputError("upload", "this technique needs an audio file")
    clip = read_audio(upload, sample_rate=sample_rate, mono=True)
    limit = int(seconds * sample_rate)
    return AudioClip(clip.samples[:, :limit], sample_rate) if clip.n_samples > limit else clip


# ------------------------------------------------------------------------------------------------ symbolic


def markov(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    import numpy as np

    from cadenza.core.score import Key, TimeSignature
    from cadenza.symbolic.markov import MarkovMelody

    score = MarkovMelody.from_pretrained().generate(
        bars=s["bars"], key=Key.parse(s["key"]), time_signature=TimeSignature.parse(s["meter"]),
        temperature=s["temperature"], rng=np.random.default_rng(s["seed"]), tempo_bpm=s["tempo"])  # fmt: skip
    return score, [f"{score.n_notes} notes, {s['bars']} bars of {s['meter']} in {s['key']}"]


def lstm(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    from cadenza.symbolic.lstm import MelodyLSTM

    score = MelodyLSTM.from_pretrained().generate(max_steps=s["steps"], temperature=s["temperature"], seed=s["seed"],
                                                  tempo_bpm=s["tempo"])  # fmt: skip
    return score, [f"{score.n_notes} notes"]


def bachbot(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    from cadenza.symbolic.bachbot import BachBot

    score = BachBot.from_pretrained().generate(frames=s["frames"], temperature=s["temperature"], seed=s["seed"])
    return score, [f"{score.n_notes} notes in 4 voices"]


def music_transformer(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    from cadenza.symbolic.transformer import MusicTransformer

    score = MusicTransformer.from_pretrained().generate(s["steps"], temperature=s["temperature"], seed=s["seed"])
    return score, [f"{score.n_notes} notes in 4 voices, {s['steps']} 16th-note steps"]


def remi(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    from cadenza.symbolic.remi_lm import RemiTransformer

    score = RemiTransformer.from_pretrained().generate(style=s["style"], bars=s["bars"], temperature=s["temperature"],
                                                       seed=s["seed"])  # fmt: skip
    if score.n_notes == 0:
        raise InputError("seed", "the sample has no notes; try another seed")
    return score, [f"{s['style']}: {score.n_notes} notes in {len(score.parts)} part(s)"]


def harmonize(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    from cadenza.symbolic.harmonize import HarmonyModel
    from cadenza.symbolic.harmonize import harmonize as viterbi

    melody = _melody(upload)
    where = upload.name if upload else "a held-out Essen tune (upload a melody to harmonize yours)"
    if s["method"] == "chorale-lstm":  # BachBot writes alto, tenor and bass under the soprano
        from cadenza.symbolic.bachbot import BachBot

        score = BachBot.from_pretrained().harmonize(melody, seed=1)
        return score, ["the chorale LSTM (BachBot): alto, tenor and bass under the melody", f"melody: {where}"]
    model = HarmonyModel.from_pretrained({"chorale": "harmony-bach", "pop": "harmony-pop"}[s["style"]])
    if s["method"] == "ga":
        from cadenza.symbolic.genetic import ga_harmonize

        harmony, result = ga_harmonize(melody, model, texture=s["texture"])
        lines = [f"GA: best fitness {result.best_fitness:.3f} after {result.generations} generations"]
    else:
        harmony = viterbi(melody, model, texture=s["texture"])
        lines = ["Viterbi: the most likely chord sequence under the melody"]
    chords = " ".join(c.name for c in harmony.chords[:16])
    return harmony.score, [
        *lines,
        f"melody: {where}",
        f"key {harmony.key.name}, chords: {chords}{' ...' if len(harmony.chords) > 16 else ''}",
    ]


def compose(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    import numpy as np

    from cadenza.core.score import Key
    from cadenza.corpus import load_corpus
    from cadenza.symbolic.compose import Style
    from cadenza.symbolic.compose import compose as make
    from cadenza.symbolic.markov import MarkovMelody

    style = Style.learn(load_corpus("bach", progress=False).split("train"))
    piece = make(style, MarkovMelody.from_pretrained(), key=Key.parse(s["key"]), bars_per_section=s["bars"],
                 tempo_bpm=s["tempo"], rng=np.random.default_rng(s["seed"]))  # fmt: skip
    return piece.score, [f"form {' '.join(piece.form)}"] + [
        f"{k}: {' '.join(v)}" for k, v in piece.progressions.items()
    ]


def improvise(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    from cadenza.symbolic.genjam import GenJam, GenJamConfig, markov_critic, parse_chords
    from cadenza.symbolic.markov import MarkovMelody

    jam = GenJam(parse_chords(s["chords"]), markov_critic(MarkovMelody.from_pretrained()),
                 GenJamConfig(generations=s["generations"], seed=s["seed"]))  # fmt: skip
    jam.evolve()
    solo = jam.solo(s["bars"], tempo_bpm=s["tempo"])
    return solo, [f"best phrase fitness {jam.log[0]['best']:.2f} -> {jam.log[-1]['best']:.2f}"]


def abc_lm(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    from cadenza.evaluate.abc_validity import validate_tune
    from cadenza.io.abc import parse_abc_tune
    from cadenza.symbolic.abc_lm import ABCLanguageModel, header_prompt

    lm = ABCLanguageModel.from_pretrained()
    prompt = header_prompt(meter=s["meter"], key=s["key"])
    for attempt in range(4):  # draw again in place of a tune that music21 or abc2midi cannot read
        text = lm.generate(prompt=prompt, temperature=s["temperature"], seed=s["seed"] + 1000 * attempt)[0]
        check = validate_tune(text)
        if check["music21"] and check["abc2midi"]:
            break
    else:
        raise InputError("seed", "four draws gave no valid tune; try another seed or a lower temperature")
    return parse_abc_tune(text), [f"valid ABC (music21 and abc2midi) after {attempt + 1} draw(s)", *text.splitlines()]


# ------------------------------------------------------------------------------------------------ audio


def text2music(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    import numpy as np

    from cadenza.audio.text2music import Text2Music
    from cadenza.core.audio import AudioClip

    if not s["prompt"]:
        raise InputError("prompt", "is empty: describe the music (e.g. 'a slow cello melody in D minor')")
    model = Text2Music.from_pretrained()
    # the prompt as words: `generate` encodes it and reads its tempo for the beat clock (an encoded prompt has none)
    codes = model.generate(s["prompt"], max(1, round(s["seconds"] * model.cfg.frame_rate)), guidance=s["guidance"],
                           temperature=s["temperature"], seed=s["seed"], progress=True)  # fmt: skip
    y = model.codec.decode_chunked(codes)[0, 0].numpy().astype(np.float32)
    return AudioClip(y, model.codec.sample_rate), [f"{s['seconds']:g} s of {s['prompt']!r}, guidance {s['guidance']:g}"]


def latent_diffusion(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    import numpy as np

    from cadenza.audio.latent_diffusion import LatentDiffusion
    from cadenza.core.audio import AudioClip

    if not s["prompt"]:
        raise InputError("prompt", "is empty: describe the music (e.g. 'a cello melody')")
    model = LatentDiffusion.from_pretrained()
    text, _ = model.text(s["prompt"])
    rate = model.codec.sample_rate
    if upload is not None:  # SDEdit: the recording moved towards the prompt
        x = _audio(upload, rate).samples[0]
        y = model.edit(x, text, strength=s["strength"], steps=s["steps"], guidance=s["guidance"], seed=s["seed"])
        line = f"the upload moved towards {s['prompt']!r} at strength {s['strength']:g}"
    else:
        n_frames = max(1, round(s["seconds"] * model.cfg.frame_rate))
        y = model.generate(text, n_frames, steps=s["steps"], guidance=s["guidance"], seed=s["seed"])
        line = f"{s['seconds']:g} s of {s['prompt']!r}"
    return AudioClip(np.asarray(y, np.float32), rate), [f"{line} ({s['steps']} DDIM steps, guidance {s['guidance']:g})"]


def codec(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    import torch

    from cadenza.audio.codec import Codec
    from cadenza.core.audio import AudioClip

    model = Codec.from_pretrained(s["model"])
    clip = _audio(upload, model.sample_rate)
    k = model.cfg.codebooks_for(s["kbps"])
    codes = model.encode_chunked(torch.tensor(clip.samples[0])[None, None], k)
    y = model.decode_chunked(codes)[0, 0, : clip.n_samples].numpy()
    return AudioClip(y, model.sample_rate), [f"{k} codebooks ({model.cfg.kbps(k):.2f} kbps): {codes.numel()} tokens"]


def ddsp(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    from cadenza.audio.ddsp import DDSP, timbre_transfer

    model = DDSP.from_pretrained(s["model"])
    clip = _audio(upload, model.cfg.sample_rate)
    try:
        out, plan, _ = timbre_transfer(model, clip, figures=model.figures)
    except ValueError as e:
        raise InputError(upload or "upload", str(e)) from None
    return out, [f"pitch {plan.pitch_shift:+g} semitones, {plan.quiet_frames:.0%} of frames unpitched"]


def rave(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    import torch

    from cadenza.audio.rave import RAVE
    from cadenza.core.audio import AudioClip

    model = RAVE.from_pretrained(s["model"])
    clip = _audio(upload, model.sample_rate)
    dims = model.fidelity_dims(s["fidelity"])
    with torch.no_grad():
        y = model.resynthesize(torch.tensor(clip.samples)[None], dims=dims)[0].numpy()
    return AudioClip(y, model.sample_rate), [f"through {dims} of {model.cfg.latent_dim} latent dimensions"]


def vampnet(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    import torch

    from cadenza.audio.vampnet import VampNet, prompt_mask
    from cadenza.core.audio import AudioClip

    model = VampNet.from_pretrained()
    codec = model.codec
    clip = _audio(upload, codec.sample_rate, seconds=20.0)
    codes = codec.encode_chunked(torch.tensor(clip.samples[0])[None, None], model.cfg.n_codebooks)
    n = codes.shape[-1]
    mask = prompt_mask([f"periodic:{s['periodic']}"], n, model.cfg)
    follow = s["follow_tune"] > 0 and model.cfg.tune_bins > 0  # as `vamp --follow-tune WEIGHT`
    tune = model.tune_of(clip.samples[0], codec.sample_rate, n) if follow else None
    out = model.vamp(codes, mask, steps=s["steps"], temperature=s["temperature"], seed=s["seed"], progress=True,
                     tune=tune, tune_guidance=s["follow_tune"])  # fmt: skip
    y = codec.decode_chunked(out)[0, 0, : clip.n_samples].numpy()
    note = f", following its tune (guidance {s['follow_tune']:g})" if follow else ""
    return AudioClip(y, codec.sample_rate), [f"a variation keeping every {s['periodic']}th frame's codes{note}"]


def synthformer(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    import numpy as np

    from cadenza.audio.synthformer import Synthformer, curves_from_specs
    from cadenza.core.audio import AudioClip

    model = Synthformer.from_pretrained()
    n_frames = max(1, round(s["seconds"] * model.cfg.frame_rate))
    specs = [p.strip() for p in s["params"].split(";") if p.strip()]
    curves = curves_from_specs(model, s["kind"], specs, n_frames)
    codes = model.generate(s["kind"], curves, n_frames, temperature=s["temperature"], seed=s["seed"])
    y = model.codec.decode_chunked(codes)[0, 0].numpy().astype(np.float32)
    return AudioClip(y, model.codec.sample_rate), [
        f"{s['seconds']:g} s of {s['kind']}: {', '.join(specs) or 'middle'}",
        f"its parameters: {', '.join(model.cfg.params_of(s['kind']))}",
    ]


def clap(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    from cadenza.audio.clap import CLAP

    model = CLAP.from_pretrained()
    clip = _audio(upload, model.cfg.tower.sample_rate)
    prompts = [p.strip() for p in s["prompts"].split(";") if p.strip()]
    if not prompts:
        raise InputError("prompts", "give one or more descriptions, separated by ';'")
    audio = model.embed_audio([clip.samples[0]])[0]
    scores = model.embed_text(prompts) @ audio
    ranked = sorted(zip(scores, prompts, strict=True), reverse=True)
    return clip, ["CLAP cosine similarity of the recording to each description, best first:",
                  *(f"{score:+.3f}  {prompt}" for score, prompt in ranked)]  # fmt: skip


def noisebandnet(s: dict[str, Any], upload: Path | None) -> tuple[Any, list[str]]:
    from cadenza.audio.noisebandnet import NoiseBandNet, control_curves, generate_from_controls

    model = NoiseBandNet.from_pretrained()
    cfg = model.cfg
    clip = _audio(upload, cfg.sample_rate)
    if clip.n_samples < 2 * cfg.hop:
        raise InputError(upload or "upload", "too short to take control curves from")
    out = generate_from_controls(model, control_curves(clip.samples[0], cfg.sample_rate, cfg.frame_rate), s["seed"])
    return out, ["a texture driven by the upload's loudness and brightness curves"]


TECHNIQUES: tuple[Technique, ...] = (
    Technique("markov", "Markov melody", "symbolic", "Variable-order Markov melodies of the Essen folk songs.", markov,
              (Field("bars", "bars", "int", 8, 1, 64), Field("key", "key", "text", "D"),
               Field("meter", "meter", "choice", "3/4", choices=("2/4", "3/4", "4/4", "6/8")),
               Field("tempo", "tempo (bpm)", "float", 110.0, 30, 240), TEMPERATURE, SEED), model="markov-essen"),
    Technique("lstm", "LSTM folk melody", "symbolic", "A folk-RNN-style LSTM on the 16th-note grid.", lstm,
              (Field("steps", "16th-note steps", "int", 128, 16, 1024), Field("tempo", "tempo (bpm)", "float", 110.0,
               30, 240), TEMPERATURE, SEED), model="lstm-essen"),
    Technique("bachbot", "BachBot chorale", "symbolic", "A four-voice chorale from BachBot's LSTM.", bachbot,
              (Field("frames", "16th-note frames", "int", 128, 16, 512), TEMPERATURE, SEED)),
    Technique("music-transformer", "Music Transformer", "symbolic",
              "Relative-attention Transformer on the JSB Chorales: four voices.", music_transformer,
              (Field("steps", "16th-note steps", "int", 128, 16, 512), TEMPERATURE, SEED)),
    Technique("remi", "REMI Transformer", "symbolic", "A Music Transformer on REMI events: chorale or folk tune.",
              remi, (Field("style", "style", "choice", "essen", choices=("essen", "bach")),
                     Field("bars", "bars", "int", 8, 1, 32), TEMPERATURE, SEED)),
    Technique("harmonize", "Harmonize a melody", "symbolic",
              "Chords under a melody (upload MIDI, MusicXML or ABC): HMM Viterbi, a genetic algorithm or BachBot.",
              harmonize,
              (Field("style", "style", "choice", "chorale", choices=("chorale", "pop")),
               Field("method", "method", "choice", "viterbi", choices=("viterbi", "ga", "chorale-lstm")),
               Field("texture", "texture", "choice", "satb", choices=("satb", "chords", "oompah"))),
              upload="score"),
    Technique("compose", "Compose (GEDMAS)", "symbolic", "Form, chords, melody: multi-level Markov composition.",
              compose, (Field("key", "key", "text", "G"), Field("bars", "bars per section", "int", 4, 1, 16),
                        Field("tempo", "tempo (bpm)", "float", 96.0, 30, 240), SEED)),
    Technique("improvise", "Improvise (GenJam)", "symbolic", "A GenJam-style genetic solo over chord changes.",
              improvise, (Field("chords", "chords", "text", "C Am F G"), Field("bars", "bars", "int", 8, 1, 32),
                          Field("generations", "generations", "int", 30, 1, 500),
                          Field("tempo", "tempo (bpm)", "float", 140.0, 30, 300), SEED)),
    Technique("abc-lm", "ABC language model (MuPT)", "symbolic",
              "A small Llama over ABC notation through Hugging Face transformers: a folk tune from its header.", abc_lm,
              (Field("meter", "meter", "choice", "6/8", choices=("2/4", "3/4", "4/4", "6/8", "9/8")),
               Field("key", "key", "text", "D"), Field("temperature", "temperature", "float", 0.8, 0.05, 2.0), SEED),
              model="abc-lm"),
    Technique("text2music", "Text to music", "audio", "A MusicGen-style model: describe the music, hear it.",
              text2music, (Field("prompt", "prompt", "text", "a slow cello melody in D minor"),
                           Field("seconds", "seconds", "float", 6.0, 1, 30),
                           Field("guidance", "guidance", "float", 3.0, 0, 10), TEMPERATURE, SEED),
              model="text2music-small"),
    Technique("latent-diffusion", "Latent diffusion", "audio",
              "Diffusion over the codec's latent: music from a prompt, or upload audio to move it towards the prompt "
              "(SDEdit).", latent_diffusion,
              (Field("prompt", "prompt", "text", "a cello melody"), Field("seconds", "seconds", "float", 6.0, 1, 30),
               Field("steps", "DDIM steps", "int", 25, 1, 200), Field("guidance", "guidance", "float", 3.0, 0, 10),
               Field("strength", "edit strength", "float", 0.6, 0.05, 1.0), SEED), upload="audio",
              model="latent-diffusion-small"),
    Technique("codec", "Neural codec", "audio", "Code a recording to tokens and back: hear what the bitrate keeps.",
              codec, (Field("model", "codec", "choice", "codec-vocos", choices=("codec-vocos", "codec", "codec-vqvae")),
                      Field("kbps", "bitrate (kbps)", "float", 3.0, 0.5, 12.0)), upload="audio", upload_required=True),
    Technique("ddsp", "DDSP timbre transfer", "audio", "Play a monophonic recording with a trained instrument.",
              ddsp, (Field("model", "instrument", "choice", "ddsp-violin", choices=("ddsp-violin",)),),
              upload="audio", upload_required=True),
    Technique("rave", "RAVE timbre transfer", "audio", "Through RAVE's latent space: any sound as the instrument.",
              rave, (Field("model", "model", "choice", "rave-violin", choices=("rave-violin", "rave-textures")),
                     Field("fidelity", "fidelity", "float", 0.95, 0.05, 1.0)), upload="audio", upload_required=True),
    Technique("vampnet", "VampNet variation", "audio", "Mask codec tokens and let the model fill them in.", vampnet,
              (Field("periodic", "keep every Nth frame", "int", 7, 1, 64), Field("steps", "steps", "int", 12, 1, 64),
               Field("follow_tune", "follow its tune (guidance; 0: off)", "float", 0.0, 0, 8),
               TEMPERATURE, SEED), upload="audio", upload_required=True),
    Technique("synthformer", "Synthformer texture", "audio",
              "A codec-token Transformer that plays a texture as its parameters move (curves: NAME=T:V,T:V; ...).",
              synthformer, (Field("kind", "texture", "choice", "rain",
                                  choices=("applause", "bugs", "engine", "fm", "rain", "wind")),
                            Field("params", "parameter curves", "text", ""),
                            Field("seconds", "seconds", "float", 6.0, 1, 30), TEMPERATURE, SEED),
              model="synthformer-textures"),
    Technique("clap", "CLAP: does it match the words?", "audio",
              "Upload a recording and some descriptions: CLAP (trained here) ranks them by similarity.", clap,
              (Field("prompts", "descriptions (; between)", "text",
                     "a violin melody; a flute melody; a piano piece; rain; applause"),),
              upload="audio", upload_required=True, model="clap-cadenza"),
    Technique("noisebandnet", "NoiseBandNet texture", "audio", "A texture driven by another sound's curves.",
              noisebandnet, (SEED,), upload="audio", upload_required=True),
)  # fmt: skip


def technique(name: str) -> Technique:
    for t in TECHNIQUES:
        if t.name == name:
            return t
    from cadenza.errors import UnknownNameError

    raise UnknownNameError("technique", name, [t.name for t in TECHNIQUES])


def write_result(result: Any, lines: list[str], out: Path) -> dict[str, Any]:
    """Write what a technique made into `out`: a score as MIDI, MusicXML, ABC, WAV and a piano roll; audio as WAV
    and a spectrogram. Returns the page's description of it (file names relative to `out`)."""
    from cadenza.core.audio import AudioClip

    if isinstance(result, AudioClip):
        from cadenza.evaluate.plots import spectrograms_png
        from cadenza.io.audio import write_audio

        write_audio(result, out / "out.wav")
        spectrograms_png([("output", result)], out / "out.png")
        return {"kind": "audio", "audio": "out.wav", "image": "out.png", "downloads": ["out.wav"], "lines": lines}
    from cadenza import io
    from cadenza.evaluate.plots import piano_roll_png
    from cadenza.render import render_score

    downloads = []
    for suffix in (".mid", ".xml", ".abc"):
        try:
            io.write(result, out / f"out{suffix}")
            downloads.append(f"out{suffix}")
        except Exception as e:  # a score that one format cannot hold (e.g. ABC of four voices): say so, go on
            lines.append(f"no {suffix[1:]} file: {str(e)[:120]}")
    render_score(result, out / "out.wav", sample_rate=22050)
    piano_roll_png(result, out / "out.png")
    return {"kind": "score", "audio": "out.wav", "image": "out.png", "downloads": [*downloads, "out.wav"],
            "lines": lines}  # fmt: skip
