"""Demo section: Genetic algorithms: harmonization (the chord HMM's GA against the course's GA)."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section, score_item


def build(out_dir: Path) -> Section:
    from cadenza import io
    from cadenza.corpus import music21_corpus_dir
    from cadenza.evaluate.plots import convergence_png
    from cadenza.symbolic.genetic import CourseHarmonizer, course_harmonization, ga_harmonize
    from cadenza.symbolic.harmonize import HarmonyModel

    model = HarmonyModel.from_pretrained()
    tune = io.read(music21_corpus_dir() / "essenFolksong" / "erk5.abc")[2]
    ga, result = ga_harmonize(tune, model, chords_per_bar=2)
    convergence_png(result.log, out_dir / "ga_convergence.png")
    course = course_harmonization(tune, CourseHarmonizer())
    ga_item = score_item(ga.score, out_dir, "harmony_ga", title=f"GA harmonization in {ga.key.name}")
    ga_item.text = "chords: " + " ".join(c.name for c in ga.chords)
    course_item = score_item(course.score, out_dir, "harmony_course", title="The course's GA (always C major)")
    course_item.text = "chords: " + " ".join(c.name for c in course.chords)
    return Section(
        "Genetic algorithms: harmonization",
        "An Essen tune harmonized in four parts by a GA whose fitness is a chord model learned from the Bach "
        "chorales (melody-chord fit, chord transitions, cadences; Viterbi finds its exact optimum), two chords "
        "per bar, against the course's GA, which assumes C major, 4/4 and a chord per bar whatever the tune.",
        [
            ga_item,
            Item("GA convergence: best and mean fitness per generation", image="ga_convergence.png"),
            course_item,
        ],  # fmt: skip
    )
