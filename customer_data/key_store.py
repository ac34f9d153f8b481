"""Where customers' data keys live: a SQLite file by default, PostgreSQL when configured.

Only wrapped keys are stored (encrypted under a master key), so a copy of the store
alone reveals nothing. Deleting a customer's key is their erasure: every value sealed
under it, in any history, becomes unreadable. Backups of this store keep keys that
erasure deleted; keeping them short-lived is the deployment's job (docs/customer-data.md).

Tables:
- data_keys: one wrapped key per subject (a customer of a store);
- journey_links: the subjects of each journey, so feedback and erasure find it;
- contacts: keyed hashes of a subject's email and phone, so erasure by either works;
- erasures: when a subject was erased, by a keyed hash (the record of the request);
- key_checks: a value sealed under each master key, to tell a wrong key at start-up;
- secrets: the store's own wrapped secrets (the contact-hash key).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journey_data_keys (
    subject TEXT PRIMARY KEY, key_id TEXT NOT NULL, master_key_id TEXT NOT NULL,
    wrapped {blob} NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journey_links (
    journey_id TEXT NOT NULL, subject TEXT NOT NULL, linked_at TEXT NOT NULL,
    PRIMARY KEY (journey_id, subject));
CREATE INDEX IF NOT EXISTS journey_links_by_subject ON journey_links (subject);
CREATE TABLE IF NOT EXISTS journey_contacts (
    contact TEXT NOT NULL, subject TEXT NOT NULL, PRIMARY KEY (contact, subject));
CREATE TABLE IF NOT EXISTS journey_erasures (
    subject_hash TEXT NOT NULL, erased_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journey_key_checks (
    master_key_id TEXT PRIMARY KEY, sealed {blob} NOT NULL);
CREATE TABLE IF NOT EXISTS journey_secrets (
    name TEXT PRIMARY KEY, master_key_id TEXT NOT NULL, wrapped {blob} NOT NULL);
"""


class KeyStoreError(Exception):
    """The key store cannot be opened or used; the message says which and why."""


@dataclass(frozen=True)
class StoredKey:
    subject: str
    key_id: str
    master_key_id: str
    wrapped: bytes


class KeyStore(Protocol):
    """What the vault needs of a key store. Calls block: the vault runs them in a thread."""

    description: str

    def data_key(self, subject: str) -> StoredKey | None: ...

    def add_data_key(self, key: StoredKey, created_at: str) -> StoredKey:
        """Store `key` unless the subject has one; return the subject's key either way."""

    def replace_wrapping(self, key: StoredKey) -> None: ...

    def all_data_keys(self) -> list[StoredKey]: ...

    def delete_data_keys(self, subjects: Sequence[str]) -> int: ...

    def link(self, subject: str, journey_id: str, contacts: Sequence[str]) -> None: ...

    def subject_of(self, journey_id: str) -> str | None: ...

    def subjects_with_contact(self, contact: str) -> list[str]: ...

    def journeys_of(self, subjects: Sequence[str]) -> list[str]: ...

    def record_erasure(self, subject_hash: str, erased_at: str) -> None: ...

    def erasures(self) -> int: ...

    def key_check(self, master_key_id: str) -> bytes | None: ...

    def add_key_check(self, master_key_id: str, sealed: bytes) -> None: ...

    def secret(self, name: str) -> tuple[str, bytes] | None: ...

    def add_secret(self, name: str, master_key_id: str, wrapped: bytes) -> tuple[str, bytes]:
        """Store the secret unless one of that name exists; return the stored one."""

    def replace_secret(self, name: str, master_key_id: str, wrapped: bytes) -> None: ...

    def close(self) -> None: ...


class SqlKeyStore:
    """The tables above, on a DB-API connection. SQL is written with `?` and turned into
    `%s` for PostgreSQL; the statements are the same on both."""

    def __init__(
        self, connect: Callable[[], Any], description: str, *, placeholder: str, blob: str
    ) -> None:
        self.description = description
        self._connect, self._placeholder = connect, placeholder
        self._lock = threading.Lock()
        self._conn: Any = None
        with self._cursor() as cur:
            for statement in _SCHEMA.format(blob=blob).split(";"):
                if statement.strip():
                    cur.execute(statement)

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """One transaction at a time per process: key store calls are short."""
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            conn = self._conn
            try:
                cur = conn.cursor()
                yield cur
                conn.commit()
            except Exception:
                try:
                    conn.rollback()
                except Exception:
                    self._conn = None  # a broken connection: open a new one next time
                raise

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            cur.execute(sql.replace("?", self._placeholder), tuple(params))
            return list(cur.fetchall()) if cur.description else []

    def data_key(self, subject: str) -> StoredKey | None:
        rows = self._run(
            "SELECT subject, key_id, master_key_id, wrapped FROM journey_data_keys "
            "WHERE subject = ?",
            [subject],
        )
        return _key(rows[0]) if rows else None

    def add_data_key(self, key: StoredKey, created_at: str) -> StoredKey:
        self._run(
            "INSERT INTO journey_data_keys (subject, key_id, master_key_id, wrapped, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject) DO NOTHING",
            [key.subject, key.key_id, key.master_key_id, key.wrapped, created_at],
        )
        stored = self.data_key(key.subject)
        if stored is None:  # erased between the two statements: store ours
            return self.add_data_key(key, created_at)
        return stored

    def replace_wrapping(self, key: StoredKey) -> None:
        self._run(
            "UPDATE journey_data_keys SET master_key_id = ?, wrapped = ? "
            "WHERE subject = ? AND key_id = ?",
            [key.master_key_id, key.wrapped, key.subject, key.key_id],
        )

    def all_data_keys(self) -> list[StoredKey]:
        rows = self._run(
            "SELECT subject, key_id, master_key_id, wrapped FROM journey_data_keys ORDER BY subject"
        )
        return [_key(row) for row in rows]

    def delete_data_keys(self, subjects: Sequence[str]) -> int:
        deleted = 0
        for subject in subjects:
            before = self.data_key(subject)
            self._run("DELETE FROM journey_data_keys WHERE subject = ?", [subject])
            deleted += before is not None
        return deleted

    def link(self, subject: str, journey_id: str, contacts: Sequence[str]) -> None:
        """A journey may be linked to more than one subject (the store changed the
        order's customer between events): erasing any of them finds it."""
        with self._cursor() as cur:
            p = self._placeholder
            cur.execute(
                f"INSERT INTO journey_links (journey_id, subject, linked_at) "
                f"VALUES ({p}, {p}, {p}) ON CONFLICT (journey_id, subject) "
                "DO UPDATE SET linked_at = excluded.linked_at",
                (journey_id, subject, datetime.now(UTC).isoformat()),
            )
            for contact in contacts:
                cur.execute(
                    f"INSERT INTO journey_contacts (contact, subject) VALUES ({p}, {p}) "
                    "ON CONFLICT (contact, subject) DO NOTHING",
                    (contact, subject),
                )

    def subject_of(self, journey_id: str) -> str | None:
        # The customer it was linked to last: whose key seals what comes next.
        rows = self._run(
            "SELECT subject FROM journey_links WHERE journey_id = ? "
            "ORDER BY linked_at DESC, subject LIMIT 1",
            [journey_id],
        )
        return str(rows[0][0]) if rows else None

    def subjects_with_contact(self, contact: str) -> list[str]:
        rows = self._run(
            "SELECT subject FROM journey_contacts WHERE contact = ? ORDER BY subject", [contact]
        )
        return [str(row[0]) for row in rows]

    def journeys_of(self, subjects: Sequence[str]) -> list[str]:
        found: list[str] = []
        for subject in subjects:
            rows = self._run(
                "SELECT journey_id FROM journey_links WHERE subject = ? ORDER BY journey_id",
                [subject],
            )
            found += [str(row[0]) for row in rows]
        return found

    def record_erasure(self, subject_hash: str, erased_at: str) -> None:
        self._run(
            "INSERT INTO journey_erasures (subject_hash, erased_at) VALUES (?, ?)",
            [subject_hash, erased_at],
        )

    def erasures(self) -> int:
        return int(self._run("SELECT count(*) FROM journey_erasures")[0][0])

    def key_check(self, master_key_id: str) -> bytes | None:
        rows = self._run(
            "SELECT sealed FROM journey_key_checks WHERE master_key_id = ?", [master_key_id]
        )
        return bytes(rows[0][0]) if rows else None

    def add_key_check(self, master_key_id: str, sealed: bytes) -> None:
        self._run(
            "INSERT INTO journey_key_checks (master_key_id, sealed) VALUES (?, ?) "
            "ON CONFLICT (master_key_id) DO NOTHING",
            [master_key_id, sealed],
        )

    def secret(self, name: str) -> tuple[str, bytes] | None:
        rows = self._run(
            "SELECT master_key_id, wrapped FROM journey_secrets WHERE name = ?", [name]
        )
        return (str(rows[0][0]), bytes(rows[0][1])) if rows else None

    def add_secret(self, name: str, master_key_id: str, wrapped: bytes) -> tuple[str, bytes]:
        self._run(
            "INSERT INTO journey_secrets (name, master_key_id, wrapped) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            [name, master_key_id, wrapped],
        )
        stored = self.secret(name)
        assert stored is not None
        return stored

    def replace_secret(self, name: str, master_key_id: str, wrapped: bytes) -> None:
        self._run(
            "UPDATE journey_secrets SET master_key_id = ?, wrapped = ? WHERE name = ?",
            [master_key_id, wrapped, name],
        )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _key(row: tuple[Any, ...]) -> StoredKey:
    return StoredKey(str(row[0]), str(row[1]), str(row[2]), bytes(row[3]))


def open_key_store(location: str) -> KeyStore:
    """`location`: a SQLite file path, or a `postgresql://` URL. Raises `KeyStoreError`
    naming the location when it cannot be opened."""
    if location.startswith(("postgresql://", "postgres://")):
        return _postgres(location)
    return _sqlite(Path(location))


def _sqlite(path: Path) -> KeyStore:
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=10, check_same_thread=False)
        # WAL: the worker, the web service and the CLI share the file.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    if path.is_dir():
        raise KeyStoreError(f"key store {path} is a folder; give a file path")
    if not path.parent.is_dir():
        raise KeyStoreError(f"key store {path}: the folder {path.parent} does not exist")
    try:
        return SqlKeyStore(connect, f"SQLite {path}", placeholder="?", blob="BLOB")
    except sqlite3.Error as err:
        raise KeyStoreError(f"key store {path} cannot be opened: {err}") from err


def _postgres(url: str) -> KeyStore:
    import psycopg

    shown = _without_password(url)

    def connect() -> Any:
        return psycopg.connect(url, connect_timeout=10)

    try:
        return SqlKeyStore(connect, f"PostgreSQL {shown}", placeholder="%s", blob="BYTEA")
    except psycopg.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise KeyStoreError(f"key store {shown} cannot be opened: {first}") from err


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
