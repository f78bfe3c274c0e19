"""Where listening-test ratings go: SQLite by default, PostgreSQL given a URL, behind one data layer.

Rows are only appended: a listener row when someone opens the test link (with the seed of their random order), and
one rating row per condition when they submit a trial, all of a trial's rows in one transaction. The primary key
(test, listener, trial, condition) makes a rating write-once: a replayed submission is refused as a whole and
changes nothing. `add_ratings` returns only after the commit, so the server acknowledges a rating only once stored.

    store = open_store("ratings.sqlite")                       # or "postgresql://user@127.0.0.1:5432/db"
    token, seed = store.add_listener("test-id")
    store.add_ratings("test-id", token, "trial-1", [Rating("anchor35", 22, 31.5, 3), ...])
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS listeners (token TEXT PRIMARY KEY, test TEXT NOT NULL, seed BIGINT NOT NULL, "
    "created DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ratings (test TEXT NOT NULL, listener TEXT NOT NULL, trial TEXT NOT NULL, "
    "condition TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, seconds DOUBLE PRECISION NOT NULL, "
    "plays INTEGER NOT NULL, stored DOUBLE PRECISION NOT NULL, PRIMARY KEY (test, listener, trial, condition))",
    "CREATE TABLE IF NOT EXISTS closed (test TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL)",
)


class AlreadyRated(Exception):
    """A trial this listener has rated already (a replayed or double submission)."""


@dataclass(frozen=True)
class Rating:
    """One condition's score in one trial: `score` 0..100 (MUSHRA), 1..5 (MOS) or 1 = preferred (A/B);
    `seconds` spent on the trial and `plays`, how often the listener played this condition."""

    condition: str
    score: float
    seconds: float
    plays: int


class Store:
    """The data layer over a DB-API connection factory; `placeholder` is the driver's parameter mark."""

    def __init__(self, connect: Callable[[], Any], placeholder: str, integrity: tuple[type[Exception], ...],
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self._connect, self._mark, self._integrity, self.clock = connect, placeholder, integrity, clock
        self._local = threading.local()
        with self._transaction() as cur:
            for statement in SCHEMA:
                cur.execute(statement)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self._mark)

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        cur = conn.cursor()
        try:
            yield cur
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            cur.close()

    def add_listener(self, test: str) -> tuple[str, int]:
        """A new listener of `test`: an unguessable token (for their link) and the seed of their random order."""
        token, seed = secrets.token_urlsafe(16), secrets.randbits(31)
        with self._transaction() as cur:
            cur.execute(self._sql("INSERT INTO listeners VALUES (?, ?, ?, ?)"), (token, test, seed, self.clock()))
        return token, seed

    def listener(self, test: str, token: str) -> int | None:
        """The seed of that listener of `test`, or None if there is no such listener."""
        with self._transaction() as cur:
            cur.execute(self._sql("SELECT seed FROM listeners WHERE token = ? AND test = ?"), (token, test))
            row = cur.fetchone()
        return None if row is None else int(row[0])

    def add_ratings(self, test: str, listener: str, trial: str, ratings: list[Rating]) -> None:
        """Store one trial's ratings, all or none; returns once they are committed.

        Raises:
            AlreadyRated: this listener has rated this trial (nothing is written).
        """
        now = self.clock()
        rows = [(test, listener, trial, r.condition, float(r.score), float(r.seconds), int(r.plays), now)
                for r in ratings]  # fmt: skip
        try:
            with self._transaction() as cur:
                cur.executemany(self._sql("INSERT INTO ratings VALUES (?, ?, ?, ?, ?, ?, ?, ?)"), rows)
        except self._integrity:
            raise AlreadyRated(f"{listener}: trial {trial} is rated already") from None

    def rated(self, test: str, listener: str) -> set[tuple[str, str]]:
        """The (trial, condition) pairs this listener has rated."""
        with self._transaction() as cur:
            cur.execute(self._sql("SELECT trial, condition FROM ratings WHERE test = ? AND listener = ?"),
                        (test, listener))  # fmt: skip
            return {(r[0], r[1]) for r in cur.fetchall()}

    def ratings(self, test: str) -> list[dict[str, Any]]:
        """Every rating of `test`, as dicts (listener, trial, condition, score, seconds, plays, stored)."""
        with self._transaction() as cur:
            cur.execute(self._sql("SELECT listener, trial, condition, score, seconds, plays, stored FROM ratings "
                                  "WHERE test = ? ORDER BY stored, listener, trial, condition"), (test,))  # fmt: skip
            keys = ("listener", "trial", "condition", "score", "seconds", "plays", "stored")
            return [dict(zip(keys, row)) for row in cur.fetchall()]

    def listeners(self, test: str) -> int:
        with self._transaction() as cur:
            cur.execute(self._sql("SELECT COUNT(*) FROM listeners WHERE test = ?"), (test,))
            return int(cur.fetchone()[0])

    def close_test(self, test: str) -> None:
        """Close a test: no new listener or rating is taken from now on."""
        with contextlib.suppress(*self._integrity), self._transaction() as cur:
            cur.execute(self._sql("INSERT INTO closed VALUES (?, ?)"), (test, self.clock()))

    def is_closed(self, test: str) -> bool:
        with self._transaction() as cur:
            cur.execute(self._sql("SELECT 1 FROM closed WHERE test = ?"), (test,))
            return cur.fetchone() is not None


def open_store(where: str | Path, clock: Callable[[], float] = time.time) -> Store:
    """A store: a SQLite file path (made if missing; WAL journal, so readers never wait for the writer) or a
    `postgresql://` URL (psycopg)."""
    url = str(where)
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg

        return Store(lambda: psycopg.connect(url), "%s", (psycopg.errors.UniqueViolation,), clock)

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(url, timeout=30.0, isolation_level="DEFERRED")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    Path(url).parent.mkdir(parents=True, exist_ok=True)
    return Store(connect, "?", (sqlite3.IntegrityError,), clock)
