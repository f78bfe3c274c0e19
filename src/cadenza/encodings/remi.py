"""REMI event tokens (Huang & Yang 2020, "Pop Music Transformer") through MidiTok.

Bar, Position, Pitch, Velocity, Duration (and Program, TimeSig, Tempo) events. Paper:
https://arxiv.org/abs/2002.00212 — MidiTok: https://github.com/Natooz/MidiTok
"""

from __future__ import annotations

from typing import Any

from cadenza.core.score import Score
from cadenza.encodings.base import EncodingError
from cadenza.io.midi import from_symusic, to_symusic


class REMI:
    """Score <-> REMI ids; positions at 1/8 of a beat (32nd notes) within bars; one stream for all parts.

    `velocities=False` drops the Velocity tokens (notes decode at velocity 100): for corpora whose
    velocities carry no information, it shortens sequences by a quarter."""

    name = "remi"

    def __init__(self, *, positions_per_beat: int = 8, n_velocities: int = 8, velocities: bool = True) -> None:
        from miditok import REMI as MidiTokREMI
        from miditok import TokenizerConfig

        config = TokenizerConfig(
            pitch_range=(21, 109),
            beat_res={(0, 4): positions_per_beat, (4, 12): 4},
            num_velocities=n_velocities,
            use_velocities=velocities,
            use_programs=True,
            one_token_stream_for_programs=True,
            use_time_signatures=True,
            use_tempos=True,
            num_tempos=32,
            tempo_range=(40, 250),
        )
        self._tok: Any = MidiTokREMI(config)

    @property
    def vocab(self) -> list[str]:
        v = self._tok.vocab
        return [t for t, _ in sorted(v.items(), key=lambda kv: kv[1])]

    def encode(self, score: Score) -> list[int]:
        if score.n_notes == 0:
            raise EncodingError(f"{score.source or score.title or 'score'}: no notes")
        lo, hi = score.pitch_range()
        if lo < 21 or hi > 108:
            raise EncodingError(f"{score.source or score.title or 'score'}: pitches {lo}..{hi} outside 21..108")
        seq = self._tok.encode(to_symusic(score))
        seq = seq[0] if isinstance(seq, list) else seq
        return list(seq.ids)

    def decode(self, ids: list[int]) -> Score:
        midi = self._tok.decode(ids)
        return from_symusic(midi)
