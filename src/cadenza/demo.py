"""The `make demo` page: one HTML file to open in a browser, to listen and look.

Each technique contributes a section builder: a function `(out_dir) -> Section`. `SECTIONS` lists them in
page order; a builder that fails shows its error on the page instead of sinking the others.
"""

from __future__ import annotations

import html
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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


def section_corpora(out_dir: Path) -> Section:
    from cadenza import io
    from cadenza.corpus import music21_corpus_dir

    bach = io.read_score(music21_corpus_dir() / "bach" / "bwv66.6.mxl").replace(title="BWV 66.6, Christ unser Herr")
    tune = io.read(music21_corpus_dir() / "essenFolksong" / "erk5.abc")[0]
    return Section(
        "The corpora",
        "Real music that every technique below learns from: a Bach chorale from music21's 371 (sung by the "
        "General MIDI choir through FluidSynth) and a folk song of the Essen collection (a violin).",
        [
            score_item(
                bach,
                out_dir,
                "bach",
                title=bach.title,
                program=52,
                note="bach corpus: SATB, key and fermatas from MusicXML",
            ),
            score_item(
                tune,
                out_dir,
                "essen",
                title=tune.title or "Essen tune",
                program=40,
                note="essen/erk corpus: one tune of an ABC tune book",
            ),
        ],  # fmt: skip
    )


def section_markov(out_dir: Path) -> Section:
    import numpy as np

    from cadenza import io
    from cadenza.core.score import Key, TimeSignature
    from cadenza.corpus import music21_corpus_dir
    from cadenza.paths import shipped_model
    from cadenza.symbolic.markov import CourseChain, MarkovMelody

    model = MarkovMelody.load(shipped_model("markov-essen", "model.json.gz"))
    rng = np.random.default_rng(3)
    major = model.generate(bars=8, key=Key(2), time_signature=TimeSignature(3, 4), rng=rng, tempo_bpm=110)
    minor = model.generate(bars=8, key=Key(9, "minor"), time_signature=TimeSignature(6, 8), rng=rng, tempo_bpm=90)
    course = CourseChain().fit(io.read(music21_corpus_dir() / "essenFolksong" / "erk5.abc"))
    baseline = course.generate(32, np.random.default_rng(3)).replace(tempo_bpm=110)
    return Section(
        "Markov chains",
        "A variable-order (PPM-C) multiple-viewpoint model trained on the Essen folk songs, key-normalized, "
        "generating under constraints: 8 bars, a key, a meter, a range, ending on the tonic. Below them, the "
        "course's first-order chain (trained on 27 tunes, no rests, no end, no meter) for comparison.",
        [
            score_item(major, out_dir, "markov_major", title="Markov melody, D major, 3/4", program=73),
            score_item(minor, out_dir, "markov_minor", title="Markov melody, A minor, 6/8", program=73),
            score_item(baseline, out_dir, "markov_course", title="The course's chain, 32 notes", program=73),
        ],
    )


def section_harmonize(out_dir: Path) -> Section:
    from cadenza import io
    from cadenza.corpus import music21_corpus_dir
    from cadenza.evaluate.plots import convergence_png
    from cadenza.paths import shipped_model
    from cadenza.symbolic.genetic import CourseHarmonizer, course_harmonization, ga_harmonize
    from cadenza.symbolic.harmonize import HarmonyModel

    model = HarmonyModel.load(shipped_model("harmony-bach", "model.json"))
    tune = io.read(music21_corpus_dir() / "essenFolksong" / "erk5.abc")[2]
    ga, result = ga_harmonize(tune, model, chords_per_bar=2)
    convergence_png(result.log, out_dir / "ga_convergence.png")
    course = course_harmonization(tune, CourseHarmonizer())
    ga_item = score_item(ga.score, out_dir, "harmony_ga", title=f"GA harmonization in {ga.key.name}")
    ga_item.text = "chords: " + " ".join(c.name for c in ga.chords)
    course_item = score_item(course.score, out_dir, "harmony_course", title="The course's GA (always C major)")
    course_item.text = "chords: " + " ".join(c.name for c in course.chords)
    return Section(
        "Genetic algorithms: harmonization",
        "An Essen tune harmonized in four parts by a GA whose fitness is a chord model learned from the Bach "
        "chorales (melody-chord fit, chord transitions, cadences; Viterbi finds its exact optimum), two chords "
        "per bar, against the course's GA, which assumes C major, 4/4 and a chord per bar whatever the tune.",
        [
            ga_item,
            Item("GA convergence: best and mean fitness per generation", image="ga_convergence.png"),
            course_item,
        ],  # fmt: skip
    )


def section_compose(out_dir: Path) -> Section:
    import numpy as np

    from cadenza.core.score import Key
    from cadenza.corpus import load_corpus
    from cadenza.paths import shipped_model
    from cadenza.symbolic.compose import Style, compose
    from cadenza.symbolic.markov import MarkovMelody

    style = Style.learn(load_corpus("bach", limit=60, progress=False).split("train"))
    melody_model = MarkovMelody.load(shipped_model("markov-essen", "model.json.gz"))
    piece = compose(style, melody_model, key=Key(7), rng=np.random.default_rng(5), tempo_bpm=104)
    item = score_item(piece.score, out_dir, "compose", title="A GEDMAS-style piece in G major")
    item.text = f"form: {' '.join(piece.form)}\n" + "\n".join(
        f"{k}: {' '.join(v)}" for k, v in piece.progressions.items()
    )
    return Section(
        "Markov chains: a whole piece, top-down (GEDMAS-style)",
        "Form, then a chord progression per section (learned from the chorales' harmony), then a melody on "
        "those chords (the Essen Markov model, chord tones favoured on strong beats), then bass and chord "
        "rhythms learned from the chorales' voices and drum patterns, on four tracks.",
        [item],
    )


def section_improvise(out_dir: Path) -> Section:
    from cadenza.evaluate.plots import convergence_png
    from cadenza.symbolic.genjam import GenJam, GenJamConfig, parse_chords

    chords = parse_chords("Dm7 G7 Cmaj7 Cmaj7 Em7 A7 Dm7 G7")
    jam = GenJam(chords, cfg=GenJamConfig(generations=400, seed=4))
    jam.evolve()
    convergence_png(jam.log, out_dir / "genjam_convergence.png", title="GenJam tournaments: phrase fitness")
    item = score_item(jam.solo(16, tempo_bpm=150), out_dir, "genjam", title="GenJam-style solo over ii-V-I")
    item.text = "chords: " + " ".join(c.symbol for c in chords) + " (twice)"
    return Section(
        "Genetic algorithms: a GenJam-style improviser",
        "Measures of eighth notes mapped through each chord's scale, phrases of four measures, GenJam's musical "
        "mutations and tournaments, judged here by a rule critic (chord tones on beats, stepwise motion, some "
        "silence); `cadenza improvise --interactive` lets you be the critic.",
        [item, Item("Phrase fitness per tournament", image="genjam_convergence.png")],
    )


def _figures(model_dir: Path) -> dict[str, float]:
    import json

    return json.loads((model_dir / "config.json").read_text()).get("figures", {})


def section_lstm(out_dir: Path) -> Section:
    import dataclasses

    from cadenza import io
    from cadenza.corpus import music21_corpus_dir
    from cadenza.paths import models_dir
    from cadenza.symbolic.lstm import generate_melody, load_melody_lstm

    model, preset = load_melody_lstm()
    free = generate_melody(model, preset, seed=7, temperature=0.9)
    tune = io.read(music21_corpus_dir() / "essenFolksong" / "erk5.abc")[5]
    primer = tune.replace(parts=(dataclasses.replace(tune.melody(), notes=tune.melody().notes[:8]),))
    cont = generate_melody(model, preset, primer=primer, seed=3, temperature=0.9)
    f = _figures(models_dir() / "lstm-essen")
    return Section(
        "LSTM: folk melodies",
        "An LSTM over the 16th-note melody grid, trained on the Essen erk collection in C major / A minor "
        f"(valid NLL {f.get('valid_nll', float('nan')):.3f} nats per symbol, accuracy "
        f"{f.get('valid_accuracy', float('nan')):.3f}). `cadenza generate lstm [--primer FILE]`.",
        [
            score_item(free, out_dir, "lstm_free", title="A melody from nothing (temperature 0.9)", program=73),
            score_item(cont, out_dir, "lstm_primer", title="The first 8 notes of an Essen tune, continued", program=73),
        ],  # fmt: skip
    )


def section_chorales(out_dir: Path) -> Section:
    from cadenza import io
    from cadenza.corpus import music21_corpus_dir
    from cadenza.evaluate.voice_leading import violations
    from cadenza.paths import models_dir
    from cadenza.symbolic.bachbot import decode, decode_tokens, harmonize_bachbot, load_bachbot
    from cadenza.symbolic.transformer import generate_chorale, load_music_transformer

    items = []
    mt, config = load_music_transformer()
    chorale = generate_chorale(mt, steps=128, seed=2)
    fig = config.get("figures", {})
    items.append(score_item(chorale, out_dir, "mt_chorale", title="Music Transformer: 8 bars, free sampling"))
    bb = load_bachbot()
    free = decode_tokens(decode(bb, n_frames=128, seed=4))
    items.append(score_item(free, out_dir, "bachbot_free", title="BachBot LSTM: a free chorale"))
    chorale_src = io.read_score(music21_corpus_dir() / "bach" / "bwv269.mxl")
    melody = chorale_src.replace(parts=(chorale_src.parts[0],))
    harm = harmonize_bachbot(melody, bb, seed=1)
    item = score_item(harm, out_dir, "bachbot_harmony", title="BachBot LSTM harmonizes the soprano of BWV 269")
    v = violations(harm)["per_100_beats"]
    item.text = "voice-leading violations per 100 beats: " + ", ".join(f"{k} {x:.2f}" for k, x in v.items())
    items.append(item)
    bbf = _figures(models_dir() / "bachbot")
    return Section(
        "Neural chorales: Music Transformer and BachBot",
        "A Transformer with relative attention (Huang et al. 2019) trained on the JSB Chorales train split "
        f"(valid NLL {fig.get('valid_nll', float('nan')):.3f} nats per token; the paper reports 0.335), and a "
        f"BachBot-style LSTM (Liang 2016; valid cross-entropy {bbf.get('valid_nll', float('nan')):.3f}, BachBot "
        "0.477) that writes chorales or fills alto, tenor and bass under a given soprano.",
        items,
    )


def section_remi(out_dir: Path) -> Section:
    from cadenza.corpus import load_corpus
    from cadenza.paths import models_dir
    from cadenza.symbolic.remi_lm import generate_remi, head_bars, load_remi_transformer

    model, _ = load_remi_transformer()
    f = _figures(models_dir() / "remi-transformer")
    tune = load_corpus("essen/erk", progress=False).split("test")[3]
    chorale = load_corpus("bach", progress=False).split("test")[2]
    items = [
        score_item(generate_remi(model, style="essen", bars=16, seed=3, temperature=0.9), out_dir, "remi_essen",
                   title="A folk tune from nothing (style token: essen)", program=73),
        score_item(generate_remi(model, style="bach", bars=8, seed=5, temperature=0.9), out_dir, "remi_bach",
                   title="A chorale from nothing (style token: bach)"),
        score_item(generate_remi(model, primer=head_bars(tune, 4), style="essen", bars=16, seed=1,
                                 temperature=0.9), out_dir, "remi_primer",
                   title=f"The first 4 bars of a held-out Essen tune ({tune.title}), continued", program=73),
        score_item(generate_remi(model, primer=head_bars(chorale, 2), style="bach", bars=8, seed=2,
                                 temperature=0.9), out_dir, "remi_chorale_primer",
                   title="The first 2 bars of a held-out chorale, continued"),
    ]  # fmt: skip
    return Section(
        "Music Transformer on REMI events: Bach and Essen",
        "One relative-attention Transformer over REMI event tokens (Bar, Position, Program, Pitch, Duration) of "
        "Bach chorales and Essen tunes, a style token choosing the corpus "
        f"(valid NLL {f.get('valid_nll_bach', float('nan')):.3f} / {f.get('valid_nll_essen', float('nan')):.3f} "
        "nats per token on held-out chorales / tunes). `cadenza generate remi-transformer [--style] [--primer]`.",
        items,
    )


def section_abc_lm(out_dir: Path) -> Section:
    import json

    from cadenza.evaluate.abc_validity import validate_tune
    from cadenza.io.abc import parse_abc_tune
    from cadenza.paths import models_dir
    from cadenza.symbolic.abc_lm import generate_abc, header_prompt, load_abc_lm

    model, tok = load_abc_lm()
    figures_file = models_dir() / "abc-lm" / "figures.json"
    f = json.loads(figures_file.read_text()) if figures_file.exists() else {}
    prompts = [
        ("A reel (R:reel, M:4/4, K:D)", header_prompt(rhythm="reel", meter="4/4", unit="1/8", key="D"), 3),
        ("A German folk song (M:3/4, K:F)", header_prompt(meter="3/4", unit="1/8", key="F"), 4),
        ("A hornpipe (R:hornpipe, M:2/4, K:G)", header_prompt(rhythm="hornpipe", meter="2/4", unit="1/16", key="G"), 2),
    ]  # fmt: skip
    items = []
    for i, (title, prompt, seed) in enumerate(prompts):
        text = generate_abc(model, tok, prompt=prompt, n=1, temperature=0.7, top_p=0.95, seed=seed)[0]
        check = validate_tune(text)
        valid = check["music21"] and check["abc2midi"]
        if valid:
            item = score_item(parse_abc_tune(text), out_dir, f"abc_lm_{i}", title=title, program=73)
        else:
            item = Item(
                title, note="this sample does not parse: " + (check["music21_error"] or check["abc2midi_error"])
            )
        item.text = text
        items.append(item)
    return Section(
        "An ABC language model (MuPT family) through Hugging Face transformers",
        "A LlamaForCausalLM with a byte-level BPE, trained here on the Essen and Irish ABC collections "
        f"(valid {f.get('valid_bits_per_char', float('nan')):.3f} bits per character), sampled from header "
        "prompts at temperature 0.7 (BENCHMARKS.md gives the share of valid samples; the seeds here were chosen "
        "among valid ones). "
        "`cadenza abc generate --rhythm reel --meter 4/4 --key D -o out/tunes`; "
        "`cadenza abc finetune --data FOLDER` adapts it with LoRA.",
        items,
    )


def _held_out_tune(index: int) -> Score:
    from cadenza.corpus import load_corpus

    return load_corpus("essen/erk", progress=False).split("test")[index]


def _render_clip(score: Score, program: str, sample_rate: int = 16000) -> object:
    import tempfile

    from cadenza.audio.datasets import trim_silence
    from cadenza.io.audio import read_audio
    from cadenza.render import program_number, render_score

    with tempfile.TemporaryDirectory() as tmp:
        wav = render_score(score, Path(tmp) / "x.wav", sample_rate=sample_rate, program=program_number(program),
                           effects=False)  # fmt: skip
        return trim_silence(read_audio(wav, mono=True))


def section_ddsp(out_dir: Path) -> Section:
    import numpy as np

    from cadenza.audio.ddsp import extract_features, load_ddsp, synthesize, timbre_transfer
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio
    from cadenza.paths import models_dir

    model, config = load_ddsp(models_dir() / "ddsp-violin")
    f = config.get("figures", {})
    items = []
    for i, (program, idx) in enumerate([("flute", 1), ("trumpet", 4)]):
        tune = _held_out_tune(idx)
        tune = tune.replace(tempo_bpm=96.0)
        src = _render_clip(tune, program).slice_s(0, 12.0)  # type: ignore[attr-defined]
        out, plan, feats = timbre_transfer(model, src, figures=f)
        write_audio(src, out_dir / f"ddsp_src_{i}.wav")
        write_audio(out, out_dir / f"ddsp_out_{i}.wav")
        t = np.arange(len(feats.f0_hz)) / model.cfg.frame_rate
        spectrograms_png([(f"{program} (FluidSynth)", src), ("the DDSP violin playing its f0 and loudness", out)],
                         out_dir / f"ddsp_{i}.png", curves={"f0 (Hz), CREPE tiny": (t, feats.f0_hz)},
                         curve_label="Hz")  # fmt: skip
        items.append(Item(f"Before: a {program} plays a held-out Essen tune ({tune.title})", audio=f"ddsp_src_{i}.wav"))
        items.append(Item(f"After: the same f0 and loudness played by the DDSP violin (pitch {plan.pitch_shift:+g}, "
                          f"loudness {plan.loudness_shift_db:+.0f} dB)", audio=f"ddsp_out_{i}.wav",
                          image=f"ddsp_{i}.png"))  # fmt: skip
    violin = _render_clip(_held_out_tune(2).replace(tempo_bpm=100.0), "violin").slice_s(0, 10.0)  # type: ignore[attr-defined]
    feats = extract_features(violin, model.cfg)
    resynth = synthesize(model, feats.f0_hz, feats.loudness_db)
    write_audio(violin, out_dir / "ddsp_violin_orig.wav")
    write_audio(resynth, out_dir / "ddsp_violin_resynth.wav")
    spectrograms_png([("FluidSynth violin (held out)", violin), ("DDSP resynthesis from its f0 and loudness", resynth)],
                     out_dir / "ddsp_resynth.png")  # fmt: skip
    items.append(Item("Resynthesis: a held-out violin render", audio="ddsp_violin_orig.wav"))
    items.append(Item("... and the DDSP violin's version", audio="ddsp_violin_resynth.wav", image="ddsp_resynth.png"))
    return Section(
        "DDSP: timbre transfer to a violin",
        "Differentiable DSP (Engel et al. 2020): a GRU reads pitch (CREPE) and loudness and drives 60 harmonics, "
        "filtered noise and a learned reverb. Trained here on "
        f"{f.get('train_minutes_of_audio', float('nan')):.0f} minutes of FluidSynth violin playing Essen tunes "
        f"(validation spectral distance {f.get('spectral_distance', float('nan')):.2f}, f0 error "
        f"{f.get('f0_error_cents', float('nan')):.1f} cents, loudness error "
        f"{f.get('loudness_error_db', float('nan')):.1f} dB). `cadenza ddsp transfer IN.wav -o OUT.wav` plays any "
        "monophonic recording with it.",
        items,
    )


def section_noiseband(out_dir: Path) -> Section:
    import numpy as np

    from cadenza.audio.noisebandnet import control_curves, generate_from_controls, load_noiseband
    from cadenza.audio.textures import make_texture
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio
    from cadenza.paths import models_dir

    model, config = load_noiseband(models_dir() / "noisebandnet-wind")
    fr = model.cfg.frame_rate
    t = np.arange(0, 10.0, 1 / fr)
    gust = np.clip(np.sin(np.pi * t / 10.0) ** 2 + 0.25 * np.sin(2 * np.pi * t / 2.5), 0, 1.2)
    loud = -45 + 30 * gust  # dB: calm, a gust, calm
    centroid = np.log2(300 + 900 * gust)  # brighter as it blows harder
    drawn = generate_from_controls(model, np.stack([loud, centroid], -1).astype(np.float32), seed=0)
    write_audio(drawn, out_dir / "nbn_drawn.wav")
    spectrograms_png([("NoiseBandNet wind driven by a drawn curve", drawn)], out_dir / "nbn_drawn.png",
                     curves={"loudness (dB)": (t, loud), "centroid / 40 (Hz)": (t, 2**centroid / 40)})  # fmt: skip
    held, _ = make_texture("wind", 8.0, model.cfg.sample_rate, np.random.default_rng(12345))
    ctl = control_curves(held.samples[0], model.cfg.sample_rate, fr)
    copy = generate_from_controls(model, ctl, seed=1)
    write_audio(held, out_dir / "nbn_wind_orig.wav")
    write_audio(copy, out_dir / "nbn_wind_copy.wav")
    spectrograms_png([("procedural wind (never seen)", held), ("NoiseBandNet from its loudness and centroid", copy)],
                     out_dir / "nbn_copy.png")  # fmt: skip
    f = config.get("figures", {})
    return Section(
        "NoiseBandNet: a wind you can draw",
        "NoiseBandNet (Barahona-Rios & Collins 2024): 256 fixed noise bands whose amplitudes a GRU sets from two "
        "control curves, loudness and spectral centroid. Trained here on procedural wind "
        f"(held-out multi-resolution STFT distance {f.get('valid_mrstft', float('nan')):.2f}). "
        "`cadenza noiseband generate --control CURVE.csv -o OUT.wav`.",
        [
            Item("Driven by a drawn curve: calm, a gust, calm", audio="nbn_drawn.wav", image="nbn_drawn.png"),
            Item("A wind the model never heard", audio="nbn_wind_orig.wav"),
            Item("... re-created from its two control curves", audio="nbn_wind_copy.wav", image="nbn_copy.png"),
        ],
    )


def section_codec(out_dir: Path) -> Section:
    from cadenza.audio.codec_train import codec_round_trip, load_codec, morph
    from cadenza.audio.opus import opus_round_trip
    from cadenza.corpus import load_corpus
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio
    from cadenza.paths import models_dir

    codec, config = load_codec(models_dir() / "codec")
    f = config.get("figures", {})
    chorale = load_corpus("bach", progress=False).split("test")[1].replace(tempo_bpm=80.0)
    src = _render_clip(chorale, "organ").slice_s(0, 8.0)  # type: ignore[attr-defined]
    c15 = codec_round_trip(codec, src, 1.5)
    c6 = codec_round_trip(codec, src, 6.0)
    opus = opus_round_trip(src, 6.0)
    for name, clip in [("codec_orig", src), ("codec_1k5", c15), ("codec_6k", c6), ("codec_opus6k", opus.audio)]:
        write_audio(clip, out_dir / f"{name}.wav")
    rows = [("original (FluidSynth organ, a held-out chorale)", src), ("codec, 6 kbps", c6),
            (f"Opus, asked for 6 kbps (spent {opus.kbps:.1f})", opus.audio)]  # fmt: skip
    spectrograms_png(rows, out_dir / "codec.png")
    a = _render_clip(_held_out_tune(6).replace(tempo_bpm=90.0), "clarinet").slice_s(0, 6.0)  # type: ignore[attr-defined]
    b = _render_clip(_held_out_tune(6).replace(tempo_bpm=90.0), "cello").slice_s(0, 6.0)  # type: ignore[attr-defined]
    steps = morph(codec, a, b, 5, "latent")
    for i in (0, 2, 4):
        write_audio(steps[i], out_dir / f"codec_morph_{i}.wav")
    write_audio(morph(codec, a, b, 3, "codes")[1], out_dir / "codec_morph_codes.wav")
    return Section(
        "A neural audio codec (RVQGAN in the manner of DAC) against Opus",
        "A convolutional codec over PQMF bands with 12 residual codebooks of 1,024 codes at 50 frames/s "
        "(0.5 kbps each; quantizer dropout lets one model run at 0.5 to 6 kbps), trained on 30 minutes of ten "
        "rendered instruments: mel loss first, then multi-period and multi-band STFT discriminators. On held-out "
        f"clips its mel distance is {f.get('valid_mel_6kbps', float('nan')):.2f} at 6 kbps "
        f"and {f.get('valid_mel_1.5kbps', float('nan')):.2f} at 1.5 kbps, lower than Opus's at 6 kbps "
        "(BENCHMARKS.md has the table). At 6 kbps it keeps the melody and the instrument and loses some "
        "brightness and the fine noise; at 1.5 kbps the pitch often slips, which the mel distance hardly shows. "
        "`cadenza codec encode IN.wav --kbps 3 -o codes.npz`, `cadenza codec decode`, "
        "`cadenza codec morph A B`.",
        [
            Item("Original", audio="codec_orig.wav"),
            Item("Codec at 1.5 kbps", audio="codec_1k5.wav"),
            Item("Codec at 6 kbps", audio="codec_6k.wav"),
            Item(
                f"Opus at 6 kbps (libopus; it spent {opus.kbps:.1f} kbps)", audio="codec_opus6k.wav", image="codec.png"
            ),  # fmt: skip
            Item("Morph in the latent space: clarinet", audio="codec_morph_0.wav"),
            Item("... halfway", audio="codec_morph_2.wav"),
            Item("... cello", audio="codec_morph_4.wav"),
            Item("Halfway in the code space (the mean of the two quantized latents)", audio="codec_morph_codes.wav"),
        ],
    )


SECTIONS: list[Callable[[Path], Section]] = [
    section_corpora,
    section_markov,
    section_compose,
    section_harmonize,
    section_improvise,
    section_lstm,
    section_chorales,
    section_remi,
    section_abc_lm,
    section_ddsp,
    section_noiseband,
    section_codec,
]


def _render_item(item: Item) -> str:
    parts = [f"<h3>{html.escape(item.title)}</h3>"]
    if item.note:
        parts.append(f'<p class="note">{html.escape(item.note)}</p>')
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
"""


def build_demo(out_dir: Path, sections: list[Callable[[Path], Section]] | None = None) -> Path:
    """Build every section into `out_dir` and write `out_dir/index.html`; returns the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    body = []
    for builder in sections or SECTIONS:
        t0 = time.perf_counter()
        try:
            sec = builder(out_dir)
            items = "".join(_render_item(i) for i in sec.items)
            body.append(f"<section><h2>{html.escape(sec.title)}</h2><p>{html.escape(sec.intro)}</p>{items}</section>")
            print(f"demo: {sec.title} ({time.perf_counter() - t0:.1f} s)")
        except Exception as e:  # one broken section must not hide the others
            tb = traceback.format_exc(limit=3)
            body.append(f'<section><h2>{builder.__name__}</h2><p class="error">failed: {html.escape(str(e))}</p>'
                        f"<pre>{html.escape(tb)}</pre></section>")  # fmt: skip
            print(f"demo: {builder.__name__} FAILED: {e}")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>cadenza demo</title>"
        f"<style>{STYLE}</style></head><body><h1>cadenza</h1>"
        "<p class='sub'>Generative music AI, end to end on a laptop CPU, offline. Built by <code>make demo</code> "
        f"on {time.strftime('%Y-%m-%d %H:%M')}.</p>{''.join(body)}</body></html>"
    )
    path = out_dir / "index.html"
    write_text_atomic(path, page)
    return path
