"""The one list of what cadenza holds: its model kinds, its command groups and its demo sections.

A new technique is one model module, one CLI module (`cadenza.cli.<noun>`), one demo section
(`cadenza.demo.<name>`) and its tests; this file is the only other one it edits: one `ModelKind` in `MODELS`,
its CLI module in `COMMANDS`, its section in `DEMO_SECTIONS`.

Everything here is a string naming a module or an object (`"package.module:Name"`), imported only when used,
so building the CLI's parser imports nothing heavy.

    >>> import cadenza
    >>> model = cadenza.load("lstm-essen")            # a shipped model by name, or any model folder
    >>> score = model.generate(seed=1)
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cadenza.errors import InputError


@dataclass(frozen=True)
class ModelKind:
    """One kind of model: the `kind` its config.json names, and where its parts live.

    Attributes:
        kind: the `kind` field of the model's config.json.
        model: the class, with `from_pretrained(name_or_dir)` and `save_pretrained(folder)`.
        config: the frozen dataclass that configures it.
        card: the card template its training command fills (a `str.format` template).
        command: the CLI noun whose verbs train and use it (`cadenza <command> train|generate|...`).
        summary: one line for `cadenza models`.
    """

    kind: str
    model: str
    config: str
    card: str
    command: str
    summary: str


MODELS: tuple[ModelKind, ...] = (
    ModelKind("markov-melody", "cadenza.symbolic.markov:MarkovMelody", "cadenza.symbolic.markov:MarkovConfig",
              "cadenza.symbolic.markov:CARD", "markov",
              "variable-order multiple-viewpoint Markov melodies (PPM-C, IDyOM-style)"),
    ModelKind("harmony-hmm", "cadenza.symbolic.harmonize:HarmonyModel", "cadenza.symbolic.harmonize:HarmonyWeights",
              "cadenza.symbolic.harmonize:CARD", "harmonize",
              "chord HMM of chorales or lead sheets, harmonic rhythm (Viterbi, GA)"),
    ModelKind("music-transformer-jsb", "cadenza.symbolic.transformer:MusicTransformer",
              "cadenza.symbolic.transformer:JSBTrainConfig", "cadenza.symbolic.transformer:CARD",
              "music-transformer", "Music Transformer (relative attention) on the JSB Chorales benchmark"),
    ModelKind("remi-transformer", "cadenza.symbolic.remi_lm:RemiTransformer",
              "cadenza.symbolic.remi_lm:RemiTrainConfig", "cadenza.symbolic.remi_lm:CARD", "remi-transformer",
              "Music Transformer on REMI events of Bach chorales and Essen tunes"),
    ModelKind("lstm-melody", "cadenza.symbolic.lstm:MelodyLSTM", "cadenza.symbolic.lstm:MelodyPreset",
              "cadenza.symbolic.lstm:CARD", "lstm", "LSTM folk melodies on the 16th-note grid"),
    ModelKind("bachbot", "cadenza.symbolic.bachbot:BachBot", "cadenza.symbolic.bachbot:BachBotConfig",
              "cadenza.symbolic.bachbot:CARD", "bachbot", "BachBot-style chorale LSTM (generates and harmonizes)"),
    ModelKind("abc-lm", "cadenza.symbolic.abc_lm:ABCLanguageModel", "cadenza.symbolic.abc_lm:ABCLMConfig",
              "cadenza.symbolic.abc_lm:CARD", "abc-lm", "ABC-notation language model (MuPT family, HF transformers)"),
    ModelKind("ddsp", "cadenza.audio.ddsp:DDSP", "cadenza.audio.ddsp:DDSPConfig", "cadenza.audio.ddsp:CARD",
              "ddsp", "DDSP timbre transfer (harmonic + noise synths, reverb)"),
    ModelKind("noisebandnet", "cadenza.audio.noisebandnet:NoiseBandNet", "cadenza.audio.noisebandnet:NoiseBandConfig",
              "cadenza.audio.noisebandnet:CARD", "noisebandnet", "NoiseBandNet sound textures driven by curves"),
    ModelKind("gansynth", "cadenza.audio.gansynth:GANSynth", "cadenza.audio.gansynth:GANSynthConfig",
              "cadenza.audio.gansynth_train:CARD", "gansynth", "GANSynth: pitched notes from a latent and a pitch"),
    ModelKind("smf", "cadenza.audio.smf:SoundModel", "cadenza.audio.smf:SoundModelConfig", "cadenza.audio.smf:CARD",
              "smf", "Sound Model Factory: a texture GAN's SOM path, played live from one control by a GRU"),
    ModelKind("codec", "cadenza.audio.codec:Codec", "cadenza.audio.codec:CodecConfig", "cadenza.audio.codec_train:CARD",
              "codec", "DAC-style neural audio codec (residual VQ), and its VQ-VAE baseline"),
    ModelKind("rave", "cadenza.audio.rave:RAVE", "cadenza.audio.rave:RAVEConfig", "cadenza.audio.rave_train:CARD",
              "rave", "RAVE realtime audio VAE: timbre transfer, latent control, streaming TorchScript + ONNX export"),
    ModelKind("rave-prior", "cadenza.audio.rave_prior:RAVEPrior", "cadenza.audio.rave_prior:PriorConfig",
              "cadenza.audio.rave_prior:PRIOR_CARD", "rave", "RAVE's prior: a GRU over its latent frames (generate)"),
    ModelKind("synthformer", "cadenza.audio.synthformer:Synthformer", "cadenza.audio.synthformer:SynthformerConfig",
              "cadenza.audio.synthformer_train:CARD", "synthformer",
              "Synthformer: codec-token Transformer that plays textures as parameters move (live)"),
    ModelKind("vampnet", "cadenza.audio.vampnet:VampNet", "cadenza.audio.vampnet:VampNetConfig",
              "cadenza.audio.vampnet_train:CARD", "vampnet",
              "VampNet: masked codec-token model (variations, continuation, inpainting, loops)"),
    ModelKind("text2music", "cadenza.audio.text2music:Text2Music", "cadenza.audio.text2music:Text2MusicConfig",
              "cadenza.audio.text2music_train:CARD", "text2music",
              "text-to-music: MusicGen-style codec-token model (prompt, melody, continuation)"),
    ModelKind("latent-diffusion", "cadenza.audio.latent_diffusion:LatentDiffusion",
              "cadenza.audio.latent_diffusion:LatentDiffusionConfig", "cadenza.audio.latent_diffusion_train:CARD",
              "latent-diffusion", "text-to-music by diffusion over the codec's latent; edit audio by prompt (SDEdit)"),
    ModelKind("attribution", "cadenza.evaluate.attribution:Attribution",
              "cadenza.evaluate.attribution:AttributionConfig", "cadenza.evaluate.attribution:CARD", "attribute",
              "reverse engineering: which cadenza technique and setting made a score (a classifier over features)"),
    ModelKind("clap", "cadenza.audio.clap:CLAP", "cadenza.audio.clap:ClapConfig", "cadenza.audio.clap:CARD", "clap",
              "CLAP model trained here: text and audio in one space (search, CLAP score, an FAD embedding)"),
    ModelKind("sound-classifier", "cadenza.audio.classifier:SoundClassifier",
              "cadenza.audio.classifier:ClassifierConfig", "cadenza.audio.classifier:CARD", "sound-classifier",
              "instrument / texture classifier trained here (KL metric, an FAD embedding)"),
)  # fmt: skip

# The command groups of `cadenza`, in the order `cadenza --help` lists them: the tasks, then one noun per model.
COMMANDS: tuple[str, ...] = (
    "cadenza.cli.scores",  # convert, render, analyze, compare
    "cadenza.cli.corpus",
    "cadenza.cli.harmonize",
    "cadenza.cli.compose",  # compose, improvise
    "cadenza.cli.data",
    "cadenza.cli.eval",
    "cadenza.cli.attribute",
    "cadenza.cli.models",
    "cadenza.cli.demo",
    "cadenza.cli.studio",
    "cadenza.cli.listen",
    "cadenza.cli.markov",
    "cadenza.cli.music_transformer",
    "cadenza.cli.remi_transformer",
    "cadenza.cli.lstm",
    "cadenza.cli.bachbot",
    "cadenza.cli.abc_lm",
    "cadenza.cli.ddsp",
    "cadenza.cli.noisebandnet",
    "cadenza.cli.gansynth",
    "cadenza.cli.smf",
    "cadenza.cli.codec",
    "cadenza.cli.rave",
    "cadenza.cli.synthformer",
    "cadenza.cli.vampnet",
    "cadenza.cli.text2music",
    "cadenza.cli.latent_diffusion",
    "cadenza.cli.clap",
    "cadenza.cli.sound_classifier",
)

# Nouns whose verb may be left out: `cadenza text2music "a slow waltz"` is `cadenza text2music generate "..."`.
DEFAULT_VERBS: dict[str, tuple[str, tuple[str, ...]]] = {
    "text2music": ("generate", ("generate", "train")),
    "attribute": ("piece", ("piece", "data", "train")),
}

# The sections of the demo page (`make demo`), in page order.
DEMO_SECTIONS: tuple[str, ...] = (
    "cadenza.demo.corpora",
    "cadenza.demo.markov",
    "cadenza.demo.compose",
    "cadenza.demo.harmonize",
    "cadenza.demo.improvise",
    "cadenza.demo.lstm",
    "cadenza.demo.chorales",
    "cadenza.demo.remi",
    "cadenza.demo.abc_lm",
    "cadenza.demo.ddsp",
    "cadenza.demo.noisebandnet",
    "cadenza.demo.gansynth",
    "cadenza.demo.smf",
    "cadenza.demo.codec",
    "cadenza.demo.rave",
    "cadenza.demo.synthformer",
    "cadenza.demo.vampnet",
    "cadenza.demo.text2music",
    "cadenza.demo.clap",
)


def resolve_object(path: str) -> Any:
    """Import `"package.module:Name"` and return the object."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def model_kind(kind: str) -> ModelKind:
    """The registered kind of that name."""
    for m in MODELS:
        if m.kind == kind:
            return m
    from cadenza.errors import UnknownNameError

    raise UnknownNameError("model kind", kind, [m.kind for m in MODELS])


def kind_of(folder: str | Path) -> str:
    """The kind of model a folder (or a single-file model) holds, read from its files.

    Raises:
        InputError: not a model cadenza knows.
    """
    p = Path(folder)
    files = {"config.json": p / "config.json", "model.json.gz": p / "model.json.gz", "model.json": p / "model.json"}
    if p.is_file():
        files = {p.name: p}
    if (path := files.get("config.json")) and path.is_file():
        try:
            config = json.loads(path.read_text())
        except ValueError as e:
            raise InputError(path, f"corrupt config ({e})") from None
        if "kind" in config:
            return str(config["kind"])
        if "model_type" in config:  # a Hugging Face causal LM folder
            return "abc-lm"
    for name, path in files.items():
        if name.endswith((".json.gz", ".json")) and path.is_file():
            from cadenza.symbolic.ppm import load_json_gz

            try:
                data = load_json_gz(path) if name.endswith(".gz") else json.loads(path.read_text())
            except (OSError, ValueError) as e:
                raise InputError(path, f"unreadable model file ({type(e).__name__})") from None
            if isinstance(data, dict) and "kind" in data:
                return str(data["kind"])
    raise InputError(p, "not a cadenza model (no config.json or model file naming its kind)")


def load(name_or_dir: str | Path) -> Any:
    """Any model: a shipped one by name (`"music-transformer-jsb"`, `"ddsp-violin"`, ...) or a model folder.

    The folder's kind picks the class; its `from_pretrained` checks the format version and the weights.
    """
    from cadenza.pretrained import resolve

    folder = resolve(name_or_dir)
    spec = model_kind(kind_of(folder))
    return resolve_object(spec.model).from_pretrained(folder)
