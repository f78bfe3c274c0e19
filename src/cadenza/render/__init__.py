"""Score -> audio through FluidSynth and a General MIDI SoundFont."""

from cadenza.render.fluidsynth import RenderError, find_soundfont, render_score
from cadenza.render.gm import GM_PROGRAMS, program_number

__all__ = ["GM_PROGRAMS", "RenderError", "find_soundfont", "program_number", "render_score"]
