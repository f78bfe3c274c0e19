"""Audio techniques over `AudioClip`: DSP functions, datasets, synthesizers (DDSP, NoiseBandNet), codecs."""
