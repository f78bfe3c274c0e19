"""Score <-> token ids. Each encoding implements the `Encoding` protocol (encode, decode, vocab)."""

from cadenza.encodings.abc_text import ABCText
from cadenza.encodings.base import Encoding, EncodingError
from cadenza.encodings.melody_grid import MelodyGrid
from cadenza.encodings.satb_grid import SATBGrid, grid_to_score
from cadenza.encodings.transpose import shift_to_c, to_c, transpositions

__all__ = [
    "ABCText",
    "Encoding",
    "EncodingError",
    "MelodyGrid",
    "SATBGrid",
    "grid_to_score",
    "shift_to_c",
    "to_c",
    "transpositions",
]
