"""Listening tests: MUSHRA (ITU-R BS.1534-3), A/B preference and MOS, served by the studio to listeners' browsers.

- `design.py`: a test's definition (a small TOML file naming stimulus folders and conditions) and `create_test`,
  which prepares the stimuli (one sample rate, at most 12 s, loudness matched by ITU-R BS.1770, MUSHRA's hidden
  reference and its 3.5 kHz and 7 kHz low-pass anchors) into a test folder with its manifest.
- `store.py`: where ratings go: SQLite by default, PostgreSQL given a URL, behind one small data layer; rows are
  only ever appended, and a rating is written once.
- `analysis.py`: the results: the standard's post-screening, mean and 95% confidence interval per condition,
  paired significance tests, CSV and a plot.
- `web.py`: the listener's pages and the rating API (Starlette routes, mounted by `cadenza listen serve` and by
  the studio).

    cadenza listen create test.toml -o my-test
    cadenza listen serve my-test              # prints the link to send to listeners
    cadenza listen results my-test -o results # screening, means, CIs, tests, CSV, plot
"""
