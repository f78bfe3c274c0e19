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
    tune = io.read(music21_corpus_dir() / "essenFolksong" / "erk5.abc")[5]
    ga, result = ga_harmonize(tune, model, chords_per_bar=2)
    convergence_png(result.log, out_dir / "ga_convergence.png")
    course = course_harmonization(tune, CourseHarmonizer())
    ga_item = score_item(ga.score, out_dir, "harmony_ga", title=f"Memetic GA, chorale style, in {ga.key.name}")
    ga_item.text = "chords: " + " ".join(c.name for c in ga.chords)
    pop, _ = ga_harmonize(tune, HarmonyModel.from_pretrained("harmony-pop"), texture="oompah")
    pop_item = score_item(
        pop.score,
        out_dir,
        "harmony_pop",
        title="The same tune, pop style (chords and harmonic rhythm from POP909), oom-pah texture",
    )
    pop_item.text = "chords per beat: " + " ".join(c.name for c in pop.chords)
    course_item = score_item(course.score, out_dir, "harmony_course", title="The course's GA (always C major)")
    course_item.text = "chords: " + " ".join(c.name for c in course.chords)
    return Section(
        "Genetic algorithms: harmonization",
        "An Essen tune harmonized in four parts by a memetic GA (every child improved by local search) whose "
        "fitness is a chord model learned from the Bach chorales (melody-chord fit, chord transitions, cadences); "
        "it reaches the exact optimum that Viterbi finds. The voices are chosen by dynamic programming: every "
        "chord complete (root, third, fifth or seventh), no parallel fifths or octaves. Then the same tune with "
        "the chord model learned from POP909's lead sheets, whose harmonic rhythm changes chords mostly on the "
        "downbeat and beat 3, as an oom-pah accompaniment; and the course's GA, which assumes C major, 4/4 and a "
        "chord per bar whatever the tune.",
        [
            ga_item,
            Item(
                "GA convergence: best so far and population mean per generation. The local search on the elite "
                "(16-slot windows solved exactly) finds the optimum in the first generations; the rest, restarts "
                "included (dips of the mean), confirm it",
                image="ga_convergence.png",
            ),
            pop_item,
            course_item,
        ],  # fmt: skip
    )
