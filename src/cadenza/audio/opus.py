"""Opus, the classic codec baseline, through libopus itself (ctypes; Debian package `libopus0`).

libsndfile and opusenc only go down to 6 kbps per channel; libopus encodes from 0.5 kbps, which the
comparison with neural codecs at 1.5 and 3 kbps needs. `opus_round_trip` encodes mono audio in 20 ms frames
at a target bitrate (constrained VBR, complexity 10, the `audio` application), decodes it, removes the
encoder's look-ahead so the output lines up with the input, and reports the bitrate actually spent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cadenza.core.audio import AudioClip
from cadenza.errors import CadenzaError

OPUS_APPLICATION_AUDIO = 2049
OPUS_SET_BITRATE = 4002
OPUS_SET_VBR_CONSTRAINT = 4020
OPUS_SET_COMPLEXITY = 4010
OPUS_GET_LOOKAHEAD = 4027
RATES = (8000, 12000, 16000, 24000, 48000)


class OpusError(CadenzaError):
    """libopus is missing or refused the input."""


@lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        raise OpusError("libopus is not installed (Debian: libopus0; `make system` installs it)") from None
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_encode_float.restype = ctypes.c_int32
    lib.opus_encode_float.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int,
                                      ctypes.c_char_p, ctypes.c_int32]  # fmt: skip
    lib.opus_decode_float.restype = ctypes.c_int
    lib.opus_decode_float.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                                      ctypes.POINTER(ctypes.c_float), ctypes.c_int, ctypes.c_int]  # fmt: skip
    lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    return lib


@dataclass
class OpusResult:
    audio: AudioClip
    kbps: float  # the bitrate actually spent: bytes * 8 / duration
    n_bytes: int


def opus_round_trip(clip: AudioClip, kbps: float, frame_ms: float = 20.0) -> OpusResult:
    """Encode and decode mono `clip` with Opus at `kbps` (0.5..512); returns the aligned decoded audio.

    Raises:
        OpusError: libopus is missing, the sample rate is not one Opus takes, or an encoder call failed.
    """
    lib = _lib()
    if clip.sample_rate not in RATES:
        raise OpusError(f"Opus takes {RATES} Hz, not {clip.sample_rate}; resample first")
    x = clip.mono().samples[0].astype(np.float32)
    sr = clip.sample_rate
    frame = int(sr * frame_ms / 1000)
    err = ctypes.c_int(0)
    enc = lib.opus_encoder_create(sr, 1, OPUS_APPLICATION_AUDIO, ctypes.byref(err))
    if err.value != 0 or not enc:
        raise OpusError(f"opus_encoder_create failed ({err.value})")
    dec = lib.opus_decoder_create(sr, 1, ctypes.byref(err))
    try:
        ctl = lib.opus_encoder_ctl
        ctl(ctypes.c_void_p(enc), OPUS_SET_BITRATE, ctypes.c_int32(int(kbps * 1000)))
        ctl(ctypes.c_void_p(enc), OPUS_SET_VBR_CONSTRAINT, ctypes.c_int32(1))
        ctl(ctypes.c_void_p(enc), OPUS_SET_COMPLEXITY, ctypes.c_int32(10))
        look = ctypes.c_int32(0)
        ctl(ctypes.c_void_p(enc), OPUS_GET_LOOKAHEAD, ctypes.byref(look))
        delay = look.value
        n_frames = -(-(len(x) + delay) // frame)
        padded = np.zeros(n_frames * frame, np.float32)
        padded[: len(x)] = x
        packet = ctypes.create_string_buffer(4000)
        out = np.zeros(n_frames * frame, np.float32)
        total = 0
        for i in range(n_frames):
            chunk = np.ascontiguousarray(padded[i * frame : (i + 1) * frame])
            n = lib.opus_encode_float(enc, chunk.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), frame, packet, 4000)
            if n < 0:
                raise OpusError(f"opus_encode_float failed ({n})")
            total += n
            pcm = np.zeros(frame, np.float32)
            got = lib.opus_decode_float(dec, packet.raw[:n], n, pcm.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                        frame, 0)  # fmt: skip
            if got < 0:
                raise OpusError(f"opus_decode_float failed ({got})")
            out[i * frame : (i + 1) * frame] = pcm
    finally:
        lib.opus_encoder_destroy(enc)
        if dec:
            lib.opus_decoder_destroy(dec)
    aligned = out[delay : delay + len(x)]
    return OpusResult(AudioClip(aligned, sr), total * 8 / (len(x) / sr) / 1000, total)
