"""Creative reverse engineering: which cadenza technique (and setting) could have made this score?

A classifier over content features of a score (its notes only: no title, tempo, track or instrument names, which
would give the answer away) trained here on the outputs of every symbolic generator of cadenza, at two sampling
temperatures where it has one, and on real pieces of the corpora the generators learned from (their test splits).
It names the likely sources with a probability each, and says which features set the piece apart, beside each
technique's typical value.

    cadenza attribute data -o attr-data --per 40     # every generator's outputs, as MIDI (the classes' folders)
    cadenza attribute train --data attr-data -o models/attribution-symbolic
    cadenza attribute piece.mid                      # the likely techniques, with probabilities

The features: 12 of the symbolic metrics (`cadenza.evaluate.symbolic`: pitch range, pitch and pitch-class
entropy, polyphony, scale consistency, groove, empty beats, ...), the parts, note density, duration statistics and
a histogram of durations, the top line's interval profile (repeats, steps, leaps; mean absolute interval) and
register. A multinomial logistic regression on standardized features (a linear model: its weights say what it
looks at); a random forest on the same split is measured beside it on the card.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from cadenza.pretrained import Pretrained

if TYPE_CHECKING:
    from cadenza.core.score import Score

KIND = "attribution"
METRICS = ("pitch_range", "n_pitches_used", "n_pitch_classes_used", "polyphony", "polyphony_rate",
           "pitch_in_scale_rate", "scale_consistency", "pitch_entropy", "pitch_class_entropy", "empty_beat_rate",
           "empty_measure_rate", "groove_consistency")  # fmt: skip
DURATIONS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
FEATURES: tuple[str, ...] = (
    *METRICS, "parts", "notes_per_quarter", "log_length_quarters", "mean_log_duration", "std_log_duration",
    *(f"duration_{d:g}" for d in DURATIONS), "duration_other", "triplet_share", "onset_on_beat",
    "top_repeat", "top_step", "top_third", "top_leap", "top_mean_abs_interval", "top_up_share",
    "pitch_mean", "pitch_std", "top_pitch_mean",
)  # fmt: skip


def score_features(score: Score) -> np.ndarray:
    """The feature vector of a score (see `FEATURES`), from its notes alone."""
    from cadenza.evaluate import analyze

    metrics = analyze(score)["metrics"]
    notes = score.notes
    if not notes:
        raise ValueError("the score has no notes")
    dur = np.array([n.duration for n in notes], dtype=np.float64)
    onsets = np.array([n.offset for n in notes], dtype=np.float64)
    pitches = np.array([n.pitch for n in notes], dtype=np.float64)
    length = max(score.end, 1e-3)
    hist = [float(np.mean(np.isclose(dur, d, atol=0.02))) for d in DURATIONS]
    triplet = np.isclose((dur * 3) % 1, 0, atol=0.02) & ~np.isclose((dur * 4) % 1, 0, atol=0.02)
    # the top line: the highest note sounding at each onset
    top: dict[float, int] = {}
    for n in notes:
        key = round(n.offset, 3)
        top[key] = max(top.get(key, 0), n.pitch)
    line = np.array([top[k] for k in sorted(top)], dtype=np.float64)
    iv = np.diff(line) if line.size > 1 else np.zeros(1)
    a = np.abs(iv)
    values = [float(metrics[m]) if metrics[m] is not None else 0.0 for m in METRICS]
    values += [float(len(score.parts)), len(notes) / length, float(np.log(length)),
               float(np.log(dur).mean()), float(np.log(dur).std()), *hist, 1.0 - float(sum(hist)),
               float(triplet.mean()), float(np.mean(np.isclose(onsets % 1.0, 0, atol=0.02))),
               float(np.mean(a == 0)), float(np.mean((a >= 1) & (a <= 2))), float(np.mean((a >= 3) & (a <= 4))),
               float(np.mean(a >= 5)), float(a.mean()), float(np.mean(iv > 0)),
               float(pitches.mean()), float(pitches.std()), float(line.mean())]  # fmt: skip
    return np.nan_to_num(np.asarray(values, dtype=np.float32))


AUDIO_RATE = 16000
AUDIO_SECONDS = 4.0
DESCRIPTORS = ("loudness_db", "loudness_std_db", "centroid_hz", "centroid_std_hz", "bandwidth_hz", "flatness",
               "rolloff_hz", "zero_crossing_rate", "onset_rate", "dynamic_range_db")  # fmt: skip
EMBEDDINGS = ("classifier", "clap")


def audio_features(samples: np.ndarray, embedders: dict[str, Any] | None = None) -> np.ndarray:
    """The feature vector of a mono clip at 16 kHz: 10 named descriptors (loudness, spectral centroid, bandwidth,
    flatness, roll-off, zero crossings, onset rate, dynamic range), then the embeddings of cadenza's sound
    classifier (512-d) and CLAP audio tower (256-d)."""
    import librosa

    from cadenza.audio.embed import get_embedder

    y = np.asarray(samples, dtype=np.float32)
    if y.size < AUDIO_RATE // 4 or not np.any(y):
        raise ValueError("the clip is too short or silent")
    rms = librosa.feature.rms(y=y)[0]
    db = 20 * np.log10(np.maximum(rms, 1e-5))
    centroid = librosa.feature.spectral_centroid(y=y, sr=AUDIO_RATE)[0]
    onsets = librosa.onset.onset_detect(y=y, sr=AUDIO_RATE)
    named = [db.mean(), db.std(), centroid.mean(), centroid.std(),
             librosa.feature.spectral_bandwidth(y=y, sr=AUDIO_RATE)[0].mean(),
             librosa.feature.spectral_flatness(y=y)[0].mean(),
             librosa.feature.spectral_rolloff(y=y, sr=AUDIO_RATE)[0].mean(),
             librosa.feature.zero_crossing_rate(y)[0].mean(), len(onsets) / (y.size / AUDIO_RATE),
             np.percentile(db, 95) - np.percentile(db, 5)]  # fmt: skip
    embedders = embedders if embedders is not None else {name: get_embedder(name) for name in EMBEDDINGS}
    parts = [np.asarray(named, dtype=np.float32)] + [embedders[n].embed([y])[0] for n in EMBEDDINGS]
    return np.nan_to_num(np.concatenate(parts).astype(np.float32))


def audio_feature_names(embedders: dict[str, Any]) -> tuple[str, ...]:
    """The names of `audio_features`' entries: the descriptors, then classifier_0.., clap_0.. (sizes measured)."""
    quiet = [np.zeros(AUDIO_RATE, dtype=np.float32)]
    return DESCRIPTORS + tuple(f"{n}_{i}" for n in EMBEDDINGS for i in range(embedders[n].embed(quiet).shape[1]))


# ------------------------------------------------------------------------------------------------ the sources


class _Once:
    """Models and corpora a source loads once, by name, however many pieces it makes."""

    def __init__(self) -> None:
        self.made: dict[str, Any] = {}

    def __call__(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self.made:
            self.made[name] = make()
        return self.made[name]


def _sources() -> dict[str, Callable[[int], Score]]:
    """label -> a function of a seed that makes one piece. Labels are `technique` or `technique@setting`;
    `real-*` are corpus pieces of the test splits (never seen by the generators)."""
    from cadenza.core.score import Key, TimeSignature
    from cadenza.corpus import load_corpus

    keys, meters = ["C", "G", "D", "F", "A", "Bb", "Am", "Em", "Dm"], ["2/4", "3/4", "4/4", "6/8"]
    once = _Once()

    def rng(seed: int) -> np.random.Generator:
        return np.random.default_rng(seed)

    def split(corpus: str) -> list[Score]:
        return once(f"corpus-{corpus}", lambda: load_corpus(corpus, progress=False).split("test"))

    def markov(t: float) -> Callable[[int], Score]:
        def make(seed: int) -> Score:
            from cadenza.symbolic.markov import MarkovMelody

            r = rng(seed)
            model = once("markov", MarkovMelody.from_pretrained)
            bars, key = int(r.integers(8, 17)), Key.parse(str(r.choice(keys)))  # drawn in this order
            meter = TimeSignature.parse(str(r.choice(meters)))
            return model.generate(bars=bars, key=key, time_signature=meter, temperature=t, rng=r)

        return make

    def lstm(t: float) -> Callable[[int], Score]:
        def make(seed: int) -> Score:
            from cadenza.symbolic.lstm import MelodyLSTM

            steps = int(rng(seed).integers(128, 257))
            return once("lstm", MelodyLSTM.from_pretrained).generate(max_steps=steps, temperature=t, seed=seed)

        return make

    def bachbot(t: float) -> Callable[[int], Score]:
        def make(seed: int) -> Score:
            from cadenza.symbolic.bachbot import BachBot

            frames = int(rng(seed).integers(128, 257))
            return once("bachbot", BachBot.from_pretrained).generate(frames=frames, temperature=t, seed=seed)

        return make

    def transformer(t: float) -> Callable[[int], Score]:
        def make(seed: int) -> Score:
            from cadenza.symbolic.transformer import MusicTransformer

            steps = int(rng(seed).integers(128, 257))
            return once("mt", MusicTransformer.from_pretrained).generate(steps, temperature=t, seed=seed)

        return make

    def remi(style: str) -> Callable[[int], Score]:
        def make(seed: int) -> Score:
            from cadenza.symbolic.remi_lm import RemiTransformer

            bars = int(rng(seed).integers(8, 17))
            return once("remi", RemiTransformer.from_pretrained).generate(style=style, bars=bars, seed=seed)

        return make

    def abc(seed: int) -> Score:
        from cadenza.evaluate.abc_validity import validate_tune
        from cadenza.io.abc import parse_abc_tune
        from cadenza.symbolic.abc_lm import ABCLanguageModel, header_prompt

        lm = once("abc", ABCLanguageModel.from_pretrained)
        r = rng(seed)
        prompt = header_prompt(meter=str(r.choice(["2/4", "3/4", "4/4", "6/8"])), key=str(r.choice(keys[:6])))
        for attempt in range(6):
            text = lm.generate(prompt=prompt, temperature=0.8, seed=seed * 100 + attempt)[0]
            check = validate_tune(text)
            if check["music21"] and check["abc2midi"]:
                return parse_abc_tune(text)
        raise ValueError("no valid tune in 6 draws")

    def harmonized(method: str) -> Callable[[int], Score]:
        def make(seed: int) -> Score:
            from cadenza.symbolic.harmonize import HarmonyModel, harmonize

            tunes = split("essen/erk")
            melody = tunes[seed % len(tunes)]
            model = once("hmm", lambda: HarmonyModel.from_pretrained("harmony-bach"))
            if method == "ga":
                from cadenza.symbolic.genetic import GAConfig, ga_harmonize

                return ga_harmonize(melody, model, cfg=GAConfig(seed=seed))[0].score
            return harmonize(melody, model).score

        return make

    def compose(seed: int) -> Score:
        from cadenza.symbolic.compose import Style
        from cadenza.symbolic.compose import compose as make
        from cadenza.symbolic.markov import MarkovMelody

        style = once("style", lambda: Style.learn(load_corpus("bach", progress=False).split("train")))
        r = rng(seed)
        return make(style, once("markov", MarkovMelody.from_pretrained), key=Key.parse(str(r.choice(keys[:6]))),
                    bars_per_section=int(r.integers(2, 5)), rng=r).score  # fmt: skip

    def improvise(seed: int) -> Score:
        from cadenza.symbolic.genjam import GenJam, GenJamConfig, markov_critic, parse_chords
        from cadenza.symbolic.markov import MarkovMelody

        changes = ["C Am F G", "Dm7 G7 Cmaj7 Cmaj7", "F Bb C F", "Am Dm E7 Am", "Cmaj7 A7 Dm7 G7"]
        critic = once("critic", lambda: markov_critic(MarkovMelody.from_pretrained()))
        jam = GenJam(parse_chords(changes[seed % len(changes)]), critic, GenJamConfig(generations=20, seed=seed))
        jam.evolve()
        return jam.solo(8)

    def real(corpus: str) -> Callable[[int], Score]:
        def make(seed: int) -> Score:
            pieces = split(corpus)
            return pieces[seed % len(pieces)]

        return make

    return {
        "markov@t0.7": markov(0.7), "markov@t1.3": markov(1.3), "lstm@t0.8": lstm(0.8), "lstm@t1.2": lstm(1.2),
        "bachbot@t0.8": bachbot(0.8), "bachbot@t1.2": bachbot(1.2), "music-transformer@t0.8": transformer(0.8),
        "music-transformer@t1.2": transformer(1.2), "remi@bach": remi("bach"), "remi@essen": remi("essen"),
        "abc-lm": abc, "harmonize@viterbi": harmonized("viterbi"), "harmonize@ga": harmonized("ga"),
        "compose": compose, "improvise": improvise, "real@bach": real("bach"), "real@essen": real("essen/erk"),
    }  # fmt: skip


def _audio_sources() -> dict[str, Callable[[int], np.ndarray]]:
    """label -> a function of a seed that makes one 4 s mono clip at 16 kHz. Inputs of the transforming techniques
    (codec, DDSP, RAVE, VampNet) are held-out Essen tunes rendered by FluidSynth; `real@*` are such renders and
    procedural textures, untouched."""
    import torch

    from cadenza.audio.textures import KINDS, make_texture
    from cadenza.demo.page import held_out_tune, render_clip

    programs = ["Flute", "Violin", "Trumpet", "Clarinet", "Acoustic Grand Piano", "Cello", "Oboe", "Alto Sax"]
    words = ["slow", "lively", "gentle", "bright", "calm", "fast"]
    n = int(AUDIO_SECONDS * AUDIO_RATE)
    once = _Once()

    def fit(y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32).reshape(-1)[:n]
        return np.pad(y, (0, n - y.size))

    def render(seed: int, program: str | None = None) -> np.ndarray:
        clip = render_clip(held_out_tune(seed % 60), program or programs[seed % len(programs)])
        return fit(clip.samples[0, int(0.2 * AUDIO_RATE) :])

    def prompt(seed: int) -> str:
        r = np.random.default_rng(seed)
        return f"a {r.choice(words)} {str(r.choice(programs)).lower()} melody"

    def codec(seed: int) -> np.ndarray:
        from cadenza.audio.codec import Codec

        model = once("codec", lambda: Codec.from_pretrained("codec-vocos"))
        x = torch.tensor(render(seed))[None, None]
        return fit(model.decode_chunked(model.encode_chunked(x, 4))[0, 0].numpy())

    def ddsp(seed: int) -> np.ndarray:
        from cadenza.audio.ddsp import DDSP, timbre_transfer
        from cadenza.core.audio import AudioClip

        model = once("ddsp", DDSP.from_pretrained)
        out, _, _ = timbre_transfer(model, AudioClip(render(seed, "Flute"), AUDIO_RATE), figures=model.figures)
        return fit(out.samples[0])

    def rave(seed: int) -> np.ndarray:
        from cadenza.audio.rave import RAVE

        model = once("rave", RAVE.from_pretrained)
        with torch.no_grad():
            y = model.resynthesize(torch.tensor(render(seed, "Flute"))[None, None], dims=model.fidelity_dims(0.99))
        return fit(y[0].numpy())

    def vampnet(seed: int) -> np.ndarray:
        from cadenza.audio.vampnet import VampNet, prompt_mask

        model = once("vampnet", VampNet.from_pretrained)
        codes = model.codec.encode_chunked(torch.tensor(render(seed))[None, None], model.cfg.n_codebooks)
        mask = prompt_mask(["periodic:7"], codes.shape[-1], model.cfg)
        out = model.vamp(codes, mask, steps=12, seed=seed)
        return fit(model.codec.decode_chunked(out)[0, 0].numpy())

    def text2music(seed: int) -> np.ndarray:
        from cadenza.audio.text2music import Text2Music

        model = once("t2m", Text2Music.from_pretrained)
        text, _ = model.text(prompt(seed))
        codes = model.generate(text, round(AUDIO_SECONDS * model.cfg.frame_rate), guidance=3.0, seed=seed)
        return fit(model.codec.decode_chunked(codes)[0, 0].numpy())

    def diffusion(seed: int) -> np.ndarray:
        from cadenza.audio.latent_diffusion import LatentDiffusion

        model = once("ld", LatentDiffusion.from_pretrained)
        text, _ = model.text(prompt(seed))
        return fit(model.generate(text, round(AUDIO_SECONDS * model.cfg.frame_rate), steps=25, seed=seed))

    def texture(seed: int) -> tuple[np.ndarray, str]:
        kind = sorted(KINDS)[seed % len(KINDS)]
        clip, _ = make_texture(kind, AUDIO_SECONDS, AUDIO_RATE, np.random.default_rng(seed))
        return fit(clip.samples[0]), kind

    def noisebandnet(seed: int) -> np.ndarray:
        from cadenza.audio.noisebandnet import NoiseBandNet, control_curves, generate_from_controls

        model = once("nbn", NoiseBandNet.from_pretrained)
        y, _ = texture(seed)
        controls = control_curves(y, model.cfg.sample_rate, model.cfg.frame_rate)
        return fit(generate_from_controls(model, controls, seed).samples[0])

    def synthformer(seed: int) -> np.ndarray:
        from cadenza.audio.synthformer import Synthformer

        model = once("sf", Synthformer.from_pretrained)
        kind = model.cfg.classes[seed % len(model.cfg.classes)]
        codes = model.generate(kind, {}, round(AUDIO_SECONDS * model.cfg.frame_rate), seed=seed)
        return fit(model.codec.decode_chunked(codes)[0, 0].numpy())

    return {
        "codec@vocos": codec, "ddsp@violin": ddsp, "rave@violin": rave, "vampnet": vampnet,
        "text2music": text2music, "latent-diffusion": diffusion, "noisebandnet": noisebandnet,
        "synthformer": synthformer, "real@render": render, "real@texture": lambda seed: texture(seed)[0],
    }  # fmt: skip


def make_dataset(out_dir: str | Path, per: int = 40, seed: int = 0, progress: bool = True,
                 domain: str = "symbolic") -> dict[str, int]:  # fmt: skip
    """Write `per` pieces of every source, as MIDI (symbolic) or 16 kHz WAV (audio): OUT/<label>/<i>.mid|.wav
    (skipping files already there, so a killed run resumes). Returns the pieces per label."""
    from tqdm.auto import tqdm

    from cadenza import io
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    out = Path(out_dir)
    counts = {}
    sources: dict[str, Callable[[int], Any]] = _sources() if domain == "symbolic" else _audio_sources()
    suffix = ".mid" if domain == "symbolic" else ".wav"
    bar = tqdm(total=per * len(sources), desc="pieces", disable=not progress)
    for label, make in sources.items():
        folder = out / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per):
            path = folder / f"{i:03d}{suffix}"
            if not path.exists():
                try:
                    made = make(seed * 100_000 + i)
                except ValueError as e:  # a draw that makes nothing usable: the next seed
                    print(f"{label} {i}: {e}")
                    made = make(seed * 100_000 + i + 50_000)
                if domain == "symbolic":
                    io.write(made, path)
                else:
                    write_audio(AudioClip(made, AUDIO_RATE), path)
            bar.update()
        counts[label] = per
    bar.close()
    return counts


# ------------------------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class AttributionConfig:
    classes: tuple[str, ...] = ()
    features: tuple[str, ...] = FEATURES
    domain: str = "symbolic"  # or "audio"


class Attribution(Pretrained, nn.Module):
    """Standardize -> linear -> softmax over the sources; `typical` holds each class's median feature values."""

    kind: ClassVar[str] = KIND
    config_cls: ClassVar[type] = AttributionConfig
    shipped: ClassVar[str | None] = "attribution-symbolic"
    cfg: AttributionConfig
    mean: torch.Tensor
    scale: torch.Tensor
    typical: torch.Tensor

    def __init__(self, cfg: AttributionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        f, c = len(cfg.features), len(cfg.classes)
        self.register_buffer("mean", torch.zeros(f))
        self.register_buffer("scale", torch.ones(f))
        self.register_buffer("typical", torch.zeros(c, f))
        self.linear = nn.Linear(f, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((x - self.mean) / self.scale)

    @torch.no_grad()
    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """[N, F] features -> [N, C] probabilities."""
        return torch.softmax(self(torch.as_tensor(np.atleast_2d(features), dtype=torch.float32)), -1).numpy()

    def features_of(self, piece: Any) -> np.ndarray:
        """A Score's features (symbolic model) or a mono 16 kHz clip's (audio model)."""
        if self.cfg.domain == "audio":
            return audio_features(piece)
        return score_features(piece)

    def attribute(self, piece: Any, top: int = 5) -> dict[str, Any]:
        """The likely sources of a piece (label, technique, setting, probability), and its named features beside
        the top sources' typical values, most telling first (|standardized difference| times the top class's
        weight). `piece`: a Score for the symbolic model, a mono 16 kHz clip for the audio one."""
        x = self.features_of(piece)
        p = self.probabilities(x)[0]
        order = np.argsort(-p)[:top]
        best = int(order[0])
        z = (x - self.mean.numpy()) / self.scale.numpy()
        weight = self.linear.weight.detach().numpy()[best]
        named = [i for i, f in enumerate(self.cfg.features) if not f.startswith(tuple(f"{e}_" for e in EMBEDDINGS))]
        telling = sorted(named, key=lambda i: -abs(z[i] * weight[i]))
        features = [{"feature": self.cfg.features[i], "value": float(x[i]),
                     **{self.cfg.classes[int(c)]: float(self.typical[int(c), i]) for c in order[:3]}}
                    for i in telling]  # fmt: skip
        guesses = [{"label": self.cfg.classes[int(i)], "technique": self.cfg.classes[int(i)].split("@")[0],
                    "setting": (self.cfg.classes[int(i)].split("@") + [""])[1], "probability": float(p[i])}
                   for i in order]  # fmt: skip
        return {"guesses": guesses, "features": features}


def read_dataset(data_dir: str | Path, progress: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, tuple[str, ...]]:  # fmt: skip
    """Features of every file under DATA/<label>/ (.mid: symbolic; .wav: audio): (X [N, F], y [N], classes, the
    index of each file in its class, the feature names)."""
    from tqdm.auto import tqdm

    from cadenza import io
    from cadenza.errors import InputError

    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(root, "no such folder")
    domain = "audio" if any(root.glob("*/*.wav")) else "symbolic"
    suffix = ".wav" if domain == "audio" else ".mid"
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob(f"*{suffix}")))
    if len(classes) < 2:
        raise InputError(root, "needs a folder per source with .mid or .wav files (`cadenza attribute data`)")
    files = [(c, f) for c in classes for f in sorted((root / c).glob(f"*{suffix}"))]
    embedders = None
    if domain == "audio":
        from cadenza.audio.embed import get_embedder
        from cadenza.io.audio import read_audio

        embedders = {name: get_embedder(name) for name in EMBEDDINGS}
    xs: list[np.ndarray] = []
    ys: list[int] = []
    idx: list[int] = []
    for c, f in tqdm(files, desc="features", disable=not progress):
        if domain == "audio":
            xs.append(audio_features(read_audio(f, sample_rate=AUDIO_RATE, mono=True).samples[0], embedders))
        else:
            xs.append(score_features(io.read(f)[0]))
        ys.append(classes.index(c))
        idx.append(int(f.stem) if f.stem.isdigit() else len(idx))
    names = FEATURES if embedders is None else audio_feature_names(embedders)
    return np.stack(xs), np.array(ys), classes, np.array(idx), names


def train_attribution(data_dir: str | Path, *, test_share: float = 0.25, seed: int = 0,
                      progress: bool = True) -> tuple[Attribution, dict[str, Any]]:  # fmt: skip
    """Fit on the first (1 - test_share) of each class's pieces, measure on the rest: accuracy over labels and over
    techniques (settings merged), against chance, the confusion matrix, and a random forest beside it."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    x, y, classes, idx, names = read_dataset(data_dir, progress)
    domain = "symbolic" if names == FEATURES else "audio"
    per_class = np.array([idx[y == c].max() + 1 for c in y])
    test = idx >= np.round(per_class * (1 - test_share))
    mean, scale = x[~test].mean(0), x[~test].std(0) + 1e-6
    z = (x - mean) / scale
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(z[~test], y[~test])
    rf = RandomForestClassifier(300, random_state=seed).fit(x[~test], y[~test])
    model = Attribution(AttributionConfig(tuple(classes), names, domain))
    with torch.no_grad():
        model.mean.copy_(torch.tensor(mean))
        model.scale.copy_(torch.tensor(scale))
        model.linear.weight.copy_(torch.tensor(lr.coef_, dtype=torch.float32))
        model.linear.bias.copy_(torch.tensor(lr.intercept_, dtype=torch.float32))
        for c in range(len(classes)):
            model.typical[c] = torch.tensor(np.median(x[~test][y[~test] == c], axis=0))
    pred = model.probabilities(x[test]).argmax(-1)
    technique = [c.split("@")[0] for c in classes]
    tech_true = np.array([technique[i] for i in y[test]])
    tech_pred = np.array([technique[i] for i in pred])
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    for t, p in zip(y[test], pred):
        confusion[t, p] += 1
    counts = np.bincount(y[~test], minlength=len(classes))
    figures = {
        "domain": domain, "classes": len(classes), "train_pieces": int((~test).sum()), "test_pieces": int(test.sum()),
        "accuracy": round(float((pred == y[test]).mean()), 3),
        "technique_accuracy": round(float((tech_true == tech_pred).mean()), 3),
        "chance": round(1 / len(classes), 3), "majority_baseline": round(float(counts.max() / counts.sum()), 3),
        "technique_chance": round(1 / len(set(technique)), 3),
        "random_forest_accuracy": round(float((rf.predict(x[test]) == y[test]).mean()), 3),
        "per_class_recall": {c: round(float(confusion[i, i] / max(1, confusion[i].sum())), 2)
                             for i, c in enumerate(classes)},
        "confusion": {"classes": classes, "rows_true_columns_predicted": confusion.tolist()},
    }  # fmt: skip
    return model, figures


DESCRIPTIONS = {
    "symbolic": (
        "Which cadenza technique, and which setting, could have made a score? A multinomial logistic "
        "regression over {classes} sources (every symbolic generator of cadenza, at two temperatures where "
        "it samples, and real pieces of the test splits of the Bach chorales and the Essen tunes) on "
        "{n_features} content features of the notes alone (no title, tempo or track names).",
        "The memetic GA and Viterbi harmonizations reach the same optimum (README), so those two settings "
        "cannot be told apart by construction; real Essen tunes and the Markov / LSTM / REMI melodies "
        "trained on them are the other confusions.",
    ),
    "audio": (
        "Which cadenza audio model could have made a recording? A multinomial logistic regression over "
        "{classes} sources (every audio model of cadenza on held-out inputs: the codec's reconstruction, DDSP "
        "and RAVE violin transfers of flute renders, VampNet variations, text-to-music and latent diffusion "
        "from prompts, NoiseBandNet and Synthformer textures; and real FluidSynth renders and procedural "
        "textures) on {n_features} features of 4 s clips at 16 kHz: 10 named descriptors (loudness, spectral "
        "centroid, flatness, onsets, ...) and the embeddings of cadenza's sound classifier and CLAP model.",
        "Text-to-music and latent diffusion, both trained on the same captioned renders and decoded by the "
        "same codec, are the main confusion.",
    ),
}


def confusion_png(figures: dict[str, Any], path: str | Path) -> Path:
    """The held-out confusion matrix as a picture."""
    from cadenza.evaluate.plots import _pyplot

    plt = _pyplot()
    classes = figures["confusion"]["classes"]
    m = np.array(figures["confusion"]["rows_true_columns_predicted"], dtype=float)
    m = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 8))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if m[i, j] >= 0.05:
                ax.text(j, i, f"{m[i, j]:.0%}", ha="center", va="center", fontsize=6.5,
                        color="white" if m[i, j] > 0.6 else "black")  # fmt: skip
    ax.set_xlabel("predicted")
    ax.set_ylabel("true source")
    ax.set_title(f"held-out attribution: {figures['accuracy']:.0%} (chance {figures['chance']:.0%}); "
                 f"technique {figures['technique_accuracy']:.0%}")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


CARD = """# Technique attribution ({domain})

{description}

Data: `{data_command}`. Trained with `{command}` on {train_pieces} pieces; measured on {test_pieces} held-out
pieces (the last quarter of each source, made with seeds the training never saw; a few per class, so each
recall below is coarse).

| held-out figure | value |
| --- | --- |
| accuracy over the {classes} sources | {accuracy} |
| chance / majority class | {chance} / {majority_baseline} |
| accuracy over techniques (settings merged) | {technique_accuracy} (chance {technique_chance}) |
| random forest on the same split | {random_forest_accuracy} |

Recall per source:

| source | recall |
| --- | --- |
{recall}

`confusion.png` shows the held-out confusion matrix. Limits: the sources are cadenza's own shipped models at their
default lengths; a piece from another system is attributed to the nearest of these, not recognized as foreign.
{limits}

```
{figures}
```
"""
