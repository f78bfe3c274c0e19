"""cadenza: generative music AI, symbolic and audio, end to end on a CPU."""

__version__ = "0.1.0"
