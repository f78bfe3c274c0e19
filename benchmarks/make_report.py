"""Generate BENCHMARKS.md from benchmarks/results/*.json (never write a figure by hand).

usage: python benchmarks/make_report.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

TITLES = {
    "corpus_load": "Corpus load: all 371 Bach chorales",
    "midi_read": "MIDI read throughput: cadenza (symusic) vs music21",
    "render_rtf": "Rendering real-time factor (FluidSynth, one core)",
    "train_bf16": "Training loop throughput: fp32 vs bf16 mixed precision (depends on the CPU: see cpu_native_bf16)",
    "shape": "The toolkit as a user meets it: CLI start-up, first corpus use, make test, make demo (before / now)",
    "markov": "Markov melodies: 10-fold bits per note, ours vs the course chain; speed",
    "harmonize": "Harmonizers: chord accuracy against Bach, and speed on a 32-bar melody",
    "abc_lm": "ABC language model (MuPT family): bits per char, sample validity, speed, fine-tuning",
    "bachbot": "BachBot-style chorale LSTM: cross-entropy and the voice leading of its harmonizations",
    "ddsp": "DDSP violin: resynthesis and timbre transfer on held-out renders, synthesis and f0 speed",
    "noisebandnet": "NoiseBandNet vs DDSP's filtered noise on procedural textures (same network, data and steps)",
    "smf": "Sound Model Factory wind: following a control, the SOM path's smoothness, speed and drift",
    "gansynth": "GANSynth at a CPU's size on notes of held-out instruments, beside magnitude-only and real notes",
    "codec": "Neural codec (RVQ, DAC-style) vs Opus and the VQ-VAE baseline on held-out multi-instrument renders",
    "codec_ablation": "Codec decoders trained side by side (conv vs Vocos vs Vocos 128-d, 1,000 steps each)",
    "codec_candidate": "The Vocos codec trained 10,000 steps with the mel loss alone, on the three held-out sets",
    "codec_vocos_decoder": "codec-vocos's decoder retrained on its frozen codes: mel loss alone (the first decoder) "
    "vs + DDSP's spectral loss vs + APNet's phase losses, on the three held-out sets, pitch by pYIN",
    "codec_vocos_gan": "codec-vocos's decoder trained alone once more, with DAC's discriminators, on the "
    "three held-out sets beside Opus 12 kbps",
    "codec_vocos_magnitude": "codec-vocos's decoder trained alone 35 minutes more, with and without APNet's amplitude "
    "loss (the amplitude arm shipped), on the three held-out sets beside Opus 12 kbps",
    "codec_mel_magnitude": "codec-mel's decoder trained alone 30 minutes more with the spectral and amplitude losses "
    "(not shipped), on the three held-out sets beside Opus 12 kbps",
    "codec_vocos_joint_magnitude": "codec-vocos's encoder, codebooks and decoder trained together 20 minutes from "
    "the shipped decoder, with the spectral and amplitude losses (new codes; not shipped), on the three held-out sets",
    "codec_vocos_joint_full": "The same whole-codec run carried to the end of its 8,000-step schedule (63 minutes "
    "in all; new codes, not shipped), on the three held-out sets beside Opus 12 kbps",
    "codec_probe": "Is the pitch in a codec's latent? An MLP probe's note accuracy from the latent, its 6 kbps "
    "quantization and the input's log-mel, on monophonic held-out clips",
    "codec_pitch_floor": "What the gross pitch error reads where the pitch is kept by construction, and on Opus: "
    "no tone (output unvoiced) and wrong notes apart",
    "codec_wide_data": "More instruments in the codec's training data: the whole codec trained 50 minutes more on its "
    "own 14 instruments against as much audio with 83, side by side, on the three held-out sets beside Opus 12 kbps",
    "codec_mel_decoder_80min": "codec-mel's decoder (log-mel encoder, codes that hold a note) trained alone 50 "
    "minutes more from its 30-minute decoder-only run (not shipped), on the three held-out sets beside Opus 12 kbps",
    "codec_mel_decoder_135min": "codec-mel's decoder trained alone 55 minutes more (135 in all), the 83-instrument "
    "renders added to its data (not shipped), on the three held-out sets beside Opus 12 kbps",
    "codec_probe_codebooks": "Does the first codebook hold the note? The probe's note accuracy from the first "
    "codebook and the first two (what VampNet's codebooks:1 and codebooks:2 prompts keep), and how often the first "
    "code stays the same while the note does",
    "codec_vocos_joint": "codec-vocos's encoder, codebooks and decoder trained together again for 45 minutes (new "
    "codes; not shipped), on the three held-out sets beside Opus 12 kbps",
    "codec_vocos_decoder2": "codec-vocos's decoder trained 6,000 steps more (decoder only, frozen codes), on the three "
    "held-out sets, pitch by pYIN",
    "codec_mel_encoder": "The log-mel encoder (codec-mel) beside codec-vocos on the three held-out sets, pitch by pYIN",
    "codec_swap": "Which half of a Vocos decoder's STFT frames loses the pitch: its magnitudes or its phases swapped "
    "for the input's, on the monophonic held-out clips",
    "rave": "RAVE violin beside DDSP and the codec: held-out resynthesis, transfer of flute, trumpet and speech, "
    "the prior, speed and latency",
    "rave_textures": "RAVE on fresh procedural textures, the paper's pair beside the log-mel/spectral pair and the "
    "codec: the parameter read back from the resynthesis, distances, level, class, FAD, the prior against N(0, I)",
    "synthformer": "Synthformer (the shipped model: stage 1 fine-tuned on textures whose parameters jump and hold) on "
    "held-out textures beside the codec (ceiling) and unigram tokens (floor): does the sound follow its parameter, "
    "class accuracy, FAD/KAD per class, the KV cache's speed-up, live play",
    "synthformer_jumps": "The shipped Synthformer on held-out textures whose parameters jump and hold "
    "(`--curves steps`): does it read its parameter at once, or follow its own past?",
    "synthformer_stage1": "The Synthformer before its fine-tuning on stepped curves (stage 1 of its card, the weights "
    "of models/synthformer-textures before 2026-12-03), re-measured through codec-vocos's current decoder",
    "synthformer_stage1_jumps": "The same stage-1 Synthformer on held-out stepped curves",
    "synthformer_steps": "Stage 2 as trained (float32 run weights; the shipped model is the same in float16), the "
    "stepped-curve arm of the fine-tuning ablation",
    "synthformer_jumps_steps": "Stage 2 as trained (float32) on held-out stepped curves",
    "synthformer_control_smooth": "The fine-tuning ablation's control: stage 1 fine-tuned the same 1,000 steps on "
    "fresh smooth curves (`--seed 8`) instead of stepped ones",
    "synthformer_control_smooth_jumps": "The smooth-curve control on held-out stepped curves",
    "vampnet": "VampNet at 3,000 steps (its first segment) on held-out renders: FAD/KAD as the sampling passes grow, "
    "beside the codec (ceiling) and unigram tokens (floor); inpainting; speed",
    "vampnet_6000": "VampNet at 6,000 steps (the same run resumed for a second segment; shipped until its third), the "
    "same benchmark and seeds",
    "vampnet_tune_model": "VampNet at 9,000 steps (the shipped model: a third segment that added the tune condition), "
    "the same benchmark and seeds, without the tune",
    "vampnet_tune": "VampNet's tune condition: periodic:7 / periodic:3 variations and every token generated, with the "
    "input's dominant notes given (not guided on them) and without, beside the model before the segment and the codec",
    "vampnet_tune_guided": "VampNet's tune condition as `vamp --follow-tune` uses it (guided 3 on the tune): the same "
    "windows and seeds",
    "vampnet_codec": "VampNet over the default codec (`models/codec`, whose decoder keeps the pitch best) instead of "
    "codec-vocos: trained from scratch with the tune, 6,000 steps, 84 min on two threads (not shipped), the same "
    "benchmark and seeds",
    "vampnet_codec_tune": "That model's tune condition guided 3 (`--follow-tune`), beside the shipped model without "
    "it and both codecs' ceilings, on the same windows and seeds",
    "vampnet_learned_embedding": "The first VampNet (a learned embedding table per codebook), the same benchmark in "
    "the same state of the codec: the other arm of the embedding ablation",
    "codec_24000": "The default codec's last stage carried to the end of its 24,000-step schedule (107 min more on one "
    "core; not shipped: about 2% better on seen instruments, 2% worse on unseen ones), the full codec benchmark",
    "codec_note": "A note codebook (`codec train --note-codebook`: the first code is each frame's dominant note, the "
    "residual codebooks code the rest), started from the default codec (its last codebook given to the note), 4,857 "
    "steps in 55 min on two threads; not shipped: the full codec benchmark",
    "codec_note_accuracy": "The note codebook: is the first code pYIN's note, and what do the note codes alone decode "
    "to, and which codes set the pitch when note and residual codes disagree? (monophonic held-out clips of the "
    "three sets), after 55 min at 4% of items decoded from the note alone, after 22 min more at 30%, and after 38 min "
    "more against a pitch classifier on the residual codes (`--pitch-adversary 2`)",
    "vampnet_note_tune": "VampNet over the note codec (its first codebook is the note; trained from scratch with the "
    "tune, 6,000 steps, 62 min on two threads, not shipped), beside the same model over the default codec: what "
    "periodic variations, the notes kept everywhere (`codebooks:1`) and the tune alone keep, same windows and seeds",
    "vampnet_gpu_6x192": "VampNet trained 5.7 min on a lent H200 on five render sets (491 min; shipped as "
    "vampnet-music since 2026-12-04): FAD against the sampling passes, pitch by prompt, inpainting, speed",
    "vampnet_gpu_8x256": "Beside it in the same GPU minutes: 8 blocks of width 256 (7.5M parameters; not shipped)",
    "vampnet_gpu_codec_8x256": "The same 8x256 model over the default codec (`models/codec`; not shipped)",
    "vampnet_gpu_tune": "The GPU-trained VampNet's tune condition (`--follow-tune`, guided 3) beside the CPU-trained "
    "model it replaces: periodic:7, periodic:3 and every token from the tune alone, same windows and seeds",
    "vampnet_gpu_valid_loss": "Held-out cross-entropy per codebook on codec-train's valid clips: the CPU-trained model "
    "against the two GPU-trained ones over codec-vocos",
    "vampnet_c2f_3200": "VampNet's coarse-to-fine stage (codebooks 5-12 given 1-4; 3,200 steps, 46 min, not shipped) "
    "on 2.56 s held-out windows: what it adds to the coarse codes, beside the codec at 4 and 12 codebooks",
    "vampnet_valid_loss": "VampNet's cross-entropy per codebook on held-out codes at 30 / 60 / 90% masked: the codec's "
    "code vectors against learned tables, beside a bigram of the first codebook (does it read its context?)",
    "text2music": "Text-to-music, the CPU-trained token model (text2music-small until 2026-12-04) and latent "
    "diffusion on held-out captions: adherence (instrument, tempo, key, CLAP score against shuffled prompts) at "
    "guidance 1 / 3 / 5, FAD/KAD beside the codec (ceiling), melody following, 'make it a cello', speed",
    "text2music_gpu": "Text-to-music trained 9.6 min on a lent H200 (text2music-small since 2026-12-04) beside the "
    "CPU-trained model it replaces (`baseline_cfg_3`) and latent diffusion, on the same held-out captions: adherence "
    "at guidance 1 / 3 / 5, FAD/KAD beside the codec (ceiling), melody following, 'make it a cello', speed",
    "text2music_gpu_beat_sweep": "The GPU-trained text2music-small with its beat clock guided on its own at 8 and 16, "
    "on every codebook and on the first only: how much tempo each buys and at what cost, same prompts and seeds",
    "text2music_gpu_6x192": "The same GPU run at the end of its first schedule (3,587 steps, 6.8 min; not shipped: "
    "2,200 steps more followed), beside the CPU-trained model, same prompts and seeds",
    "text2music_valid_loss": "Text-to-music's held-out loss (nats per code) on the five render sets' 159 valid clips, "
    "the GPU-trained text2music-small beside the CPU-trained model it replaced, with the prompt's controls",
    "token_parts": "Under the token models: the codecs on textures at 4 codebooks; GANSynth's representation "
    "round trips and training step",
    "listen_load": "Listening tests under load: 50 listeners rating at once through `cadenza listen serve`, SQLite "
    "and PostgreSQL: ratings lost / duplicated, replays refused, latency percentiles beside a static file's",
    "attribution": "Which technique made it: the shipped attribution models on their held-out pieces, made again "
    "from their seeds (sources and techniques against chance, the main confusions)",
    "audio_eval": "Evaluating generated audio: the ladders FAD and KAD must climb per embedder, the audio models "
    "measured, CLAP retrieval, embedder speed",
    "audio_eval_codecs": "The evaluation issue's ladder for each codec side by side (held-out renders < codec 6 kbps < "
    "codec 1.5 kbps < Opus 1.5 kbps < noise): FAD / KAD through CLAP, the classifier and log-mel statistics",
}


def _flatten(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def main() -> None:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/make_report.py` from `benchmarks/results/*.json`; every figure below was",
        "measured by the script named with it (`make bench` runs them all). Ratios compare two things measured in",
        "the same run on the same machine.",
        "",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        r = json.loads(path.read_text())
        m = r["machine"]
        lines += [f"## {TITLES.get(r['name'], r['name'])}", ""]
        lines += [f"`{r['command']}` — {m['date']}, {m['cpu']}, {m['cores']} cores, torch {m['torch']}", ""]
        lines += ["| figure | value |", "| --- | --- |"]
        for k, v in _flatten(r["figures"]).items():
            lines.append(f"| {k} | {v} |")
        lines.append("")
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines))
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
