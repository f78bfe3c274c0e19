"""A listening test's definition and its prepared stimuli.

A test is defined by a TOML file:

    name = "codecs at 6 kbps"
    type = "mushra"                 # mushra | ab | mos
    reference = "clips/original"    # MUSHRA: the open and the hidden reference (the anchors are made from it)
    [conditions]                    # name = folder; a trial is a file name present in every folder
    cadenza = "clips/codec"
    opus = "clips/opus"

`create_test` makes a self-contained test folder from it: `test.json` (the manifest: trials, conditions, a random
test id for the link) and `stimuli/<trial>/<condition>.wav`, every stimulus at one sample rate, cut to at most
12 s, and loudness matched (ITU-R BS.1770 integrated loudness, -23 LUFS, peaks kept under -1 dBFS). For MUSHRA the
reference also appears as a hidden condition and two low-pass anchors are made from it (3.5 kHz, the standard's
mandatory one, and 7 kHz), as ITU-R BS.1534-3 asks; a trial holds at most 12 conditions.
"""

from __future__ import annotations

import json
import secrets
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import InputError

TYPES = ("mushra", "ab", "mos")
MAX_CONDITIONS = 12  # BS.1534-3: at most 12 conditions per trial, hidden reference and anchors included
MAX_SECONDS = 12.0  # stimuli of at most about 12 s
TARGET_LUFS = -23.0
PEAK_DBFS = -1.0
HIDDEN_REFERENCE = "reference"
ANCHORS = {"anchor35": 3500.0, "anchor70": 7000.0}
NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True)
class TestSpec:
    """What a TOML test file says."""

    name: str
    type: str
    conditions: dict[str, Path]
    reference: Path | None = None
    sample_rate: int = 44100
    max_seconds: float = MAX_SECONDS


@dataclass
class Manifest:
    """A prepared test (`test.json`): what the server and the analysis read.

    `trials` are the stimulus names; `conditions` every condition a trial holds (for MUSHRA: the hidden reference,
    the anchors, then the tested ones); `loudness` the measured loudness of each stimulus before matching.
    """

    id: str
    name: str
    type: str
    trials: list[str]
    conditions: list[str]
    sample_rate: int
    seconds: dict[str, float] = field(default_factory=dict)
    loudness: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def stimulus(self, folder: Path, trial: str, condition: str) -> Path:
        """The file of one stimulus (`condition` "open" is MUSHRA's open reference): names are checked against
        the manifest, so no request can reach another file."""
        if trial not in self.trials or (condition not in self.conditions and condition != "open"):
            raise KeyError(f"{trial}/{condition}")
        return folder / "stimuli" / trial / f"{condition}.wav"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def _safe_name(name: str, where: Path, what: str) -> str:
    if not name or not set(name) <= NAME_OK or len(name) > 64:
        raise InputError(where, f"{what} {name!r}: use letters, digits, '-' and '_' (at most 64)")
    return name


def read_spec(path: str | Path) -> TestSpec:
    """Read and check a TOML test definition (folders relative to the file).

    Raises:
        InputError: unreadable TOML, an unknown type, a missing folder, a bad condition name, too many conditions.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    try:
        raw = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(p, f"not valid TOML ({e})") from None
    kind = str(raw.get("type", "mushra")).lower()
    if kind not in TYPES:
        raise InputError(p, f"type {kind!r} is not one of {', '.join(TYPES)}")
    conds = raw.get("conditions")
    if not isinstance(conds, dict) or not conds:
        raise InputError(p, "needs a [conditions] table: name = folder")
    base = p.parent
    conditions = {_safe_name(str(k), p, "condition"): base / str(v) for k, v in conds.items()}
    reference = base / str(raw["reference"]) if "reference" in raw else None
    if kind == "mushra":
        if reference is None:
            raise InputError(
                p, "a MUSHRA test needs reference = FOLDER (the hidden reference and anchors come from it)"
            )
        clash = set(conditions) & ({HIDDEN_REFERENCE, "open"} | set(ANCHORS))
        if clash:
            raise InputError(p, f"condition names {sorted(clash)} are reserved for the reference and anchors")
        if len(conditions) + 1 + len(ANCHORS) > MAX_CONDITIONS:
            raise InputError(p, f"{len(conditions)} conditions + hidden reference + 2 anchors is over "
                                f"{MAX_CONDITIONS} per trial (ITU-R BS.1534-3)")  # fmt: skip
    if kind == "ab" and len(conditions) != 2:
        raise InputError(p, f"an A/B test compares exactly 2 conditions, not {len(conditions)}")
    for name, folder in [*conditions.items(), *([("reference", reference)] if reference else [])]:
        if not folder.is_dir():
            raise InputError(p, f"{name}: no such folder {folder}")
    rate = int(raw.get("sample_rate", 44100))
    seconds = float(raw.get("max_seconds", MAX_SECONDS))
    if not 8000 <= rate <= 96000 or not 0.5 <= seconds <= 30:
        raise InputError(p, "sample_rate must be 8000..96000 and max_seconds 0.5..30")
    return TestSpec(str(raw.get("name", p.stem)), kind, conditions, reference, rate, seconds)


# ------------------------------------------------------------------------------------------------ loudness


def _biquad(b: list[float], a: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(b) / a[0], np.asarray(a) / a[0]


def k_weighting(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """BS.1770's K-weighting at any rate: a high shelf (+4 dB above ~1.5 kHz) then a high-pass (~38 Hz), designed by
    the bilinear transform from the standard's analog prototypes (equal to the standard's 48 kHz coefficients)."""
    g, q, fc = 3.99984385397, 0.7071752369554193, 1681.974450955533
    k = np.tan(np.pi * fc / sample_rate)
    vh = 10 ** (g / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = _biquad([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0],
                    [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])  # fmt: skip
    q, fc = 0.5003270373238773, 38.13547087602444
    k = np.tan(np.pi * fc / sample_rate)
    a0 = 1 + k / q + k * k
    highpass = _biquad([1.0, -2.0, 1.0], [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return [shelf, highpass]


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """ITU-R BS.1770-4 integrated loudness in LUFS of [channels, samples] audio (channel weights 1: mono/stereo):
    400 ms blocks, 75% overlap, the -70 LUFS absolute gate and the -10 LU relative gate. -inf for silence."""
    from scipy.signal import lfilter

    x = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    for b, a in k_weighting(sample_rate):
        x = lfilter(b, a, x, axis=-1)
    block, hop = int(0.4 * sample_rate), int(0.1 * sample_rate)
    if x.shape[-1] < block:
        x = np.pad(x, ((0, 0), (0, block - x.shape[-1])))
    starts = np.arange(0, x.shape[-1] - block + 1, hop)
    power = np.array([(x[:, s : s + block] ** 2).mean(axis=-1).sum() for s in starts])
    loud = -0.691 + 10 * np.log10(np.maximum(power, 1e-20))
    gated = power[loud > -70.0]
    if gated.size == 0:
        return float("-inf")
    relative = -0.691 + 10 * np.log10(gated.mean()) - 10.0
    gated = power[(loud > -70.0) & (loud > relative)]
    return float(-0.691 + 10 * np.log10(gated.mean()))


def match_loudness(samples: np.ndarray, sample_rate: int, target: float = TARGET_LUFS) -> tuple[np.ndarray, float]:
    """`samples` scaled to `target` LUFS (less if the peak would pass -1 dBFS); returns them and their loudness."""
    lufs = integrated_loudness(samples, sample_rate)
    if not np.isfinite(lufs):
        return samples, lufs
    gain = 10 ** ((target - lufs) / 20)
    peak = float(np.abs(samples).max()) * gain
    gain *= min(1.0, 10 ** (PEAK_DBFS / 20) / max(peak, 1e-9))
    return (samples * gain).astype(np.float32), lufs


def lowpass(samples: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """MUSHRA's anchor: a steep (8th-order Butterworth, zero-phase) low-pass."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(8, cutoff_hz, btype="low", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, samples, axis=-1).astype(np.float32)


# ------------------------------------------------------------------------------------------------ create


def _stimuli_names(folder: Path) -> dict[str, Path]:
    from cadenza.io.audio import AUDIO_SUFFIXES

    return {f.stem: f for f in sorted(folder.iterdir()) if f.suffix.lower() in AUDIO_SUFFIXES}


def create_test(spec_path: str | Path, out_dir: str | Path, *, test_id: str | None = None) -> Manifest:
    """Prepare a test folder from its TOML definition (see the module's docstring); atomic: a failure leaves
    nothing behind.

    Raises:
        InputError: a bad definition, no trial common to every folder, an unreadable or silent stimulus.
    """
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import read_audio, write_audio
    from cadenza.io.files import atomic_folder, write_text_atomic

    spec = read_spec(spec_path)
    folders = dict(spec.conditions)
    if spec.reference is not None:
        folders = {"open": spec.reference, **folders}
    listing = {name: _stimuli_names(folder) for name, folder in folders.items()}
    trials = sorted(set.intersection(*(set(v) for v in listing.values())))
    if not trials:
        raise InputError(spec_path, "no stimulus file name is present in every folder (a trial is one such name)")
    for name in trials:
        _safe_name(name, listing["open" if spec.reference else next(iter(spec.conditions))][name], "stimulus name")
    tested = list(spec.conditions)
    conditions = [HIDDEN_REFERENCE, *ANCHORS, *tested] if spec.type == "mushra" else tested
    manifest = Manifest(secrets.token_urlsafe(9) if test_id is None else test_id, spec.name, spec.type, trials,
                        conditions, spec.sample_rate)  # fmt: skip
    skipped = sorted(set.union(*(set(v) for v in listing.values())) - set(trials))
    if skipped:
        manifest.notes.append(f"left out {len(skipped)} file(s) not present in every folder: {', '.join(skipped[:5])}")
    out = Path(out_dir)
    with atomic_folder(out) as tmp:
        for trial in trials:
            clips: dict[str, np.ndarray] = {}
            for name in folders:
                clip = read_audio(listing[name][trial], sample_rate=spec.sample_rate)
                x = clip.samples[:2]
                limit = int(spec.max_seconds * spec.sample_rate)
                if x.shape[-1] > limit:
                    x = x[:, :limit]
                    manifest.notes.append(f"{trial}/{name}: cut to {spec.max_seconds:g} s")
                clips[name] = x
            n_ch = max(c.shape[0] for c in clips.values())
            length = max(c.shape[-1] for c in clips.values())
            clips = {k: np.pad(np.broadcast_to(c, (n_ch, c.shape[-1])), ((0, 0), (0, length - c.shape[-1])))
                     for k, c in clips.items()}  # fmt: skip
            if spec.type == "mushra":
                clips[HIDDEN_REFERENCE] = clips["open"]
                for anchor, cutoff in ANCHORS.items():
                    clips[anchor] = lowpass(clips["open"], spec.sample_rate, cutoff)
            manifest.loudness[trial] = {}
            manifest.seconds[trial] = round(length / spec.sample_rate, 3)
            for name, x in clips.items():
                matched, lufs = match_loudness(x, spec.sample_rate)
                if not np.isfinite(lufs):
                    raise InputError(listing.get(name, listing.get("open", {})).get(trial, spec_path), "is silent")
                manifest.loudness[trial][name] = round(lufs, 2)
                write_audio(AudioClip(matched, spec.sample_rate), tmp / "stimuli" / trial / f"{name}.wav")
        write_text_atomic(tmp / "test.json", manifest.to_json())
    return manifest


def read_manifest(folder: str | Path) -> Manifest:
    """The manifest of a prepared test folder.

    Raises:
        InputError: not a test folder (no test.json) or a corrupt one.
    """
    p = Path(folder) / "test.json"
    if not p.is_file():
        raise InputError(folder, "not a listening-test folder (no test.json; make one with `cadenza listen create`)")
    try:
        data: dict[str, Any] = json.loads(p.read_text())
        return Manifest(**data)
    except (ValueError, TypeError) as e:
        raise InputError(p, f"corrupt manifest ({e})") from None
