"""The store's public surface: :class:`Store` opens the database, :class:`Transaction` holds
every query and write. Rows come out as the dataclasses of :mod:`ingestd.store.records`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import (
    Connection,
    Engine,
)
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ingestd.errors import StoreError, StoreFullError
from ingestd.store import migrations
from ingestd.store.checkpoint import Checkpointer
from ingestd.store.clusters import ClusterQueries
from ingestd.store.engine import engine_for, is_disk_full, read_only_engine
from ingestd.store.feeds import FeedQueries
from ingestd.store.keys import KeyQueries
from ingestd.store.links import LinkQueries


class Store:
    """One database. Open with :meth:`open`; use :meth:`transaction` for every access."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.checkpointer: Checkpointer | None = None
        self._kept = threading.local()  # each thread's connection for :meth:`statements`
        self._kept_all: list[Connection] = []
        self._kept_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str,
        migrate: bool = True,
        background_checkpoints: bool = False,
        before_migration: Callable[[migrations.Migration], None] | None = None,
        read_only: bool = False,
    ) -> Store:
        """Connect and (by default) apply pending migrations; StoreError when impossible.

        ``read_only`` (a SQLite file this process may not write): opened read-only, never
        migrated; StoreError when its schema is behind this ingestd's.

        ``background_checkpoints`` (SQLite; for the one writer process): WAL checkpoints run
        on a thread of their own instead of inside commits (see :mod:`.checkpoint`).
        ``before_migration`` is called before each migration that runs.
        """
        if read_only:
            return cls._read_only(url)
        engine = engine_for(url, background_checkpoints=background_checkpoints)
        store = cls(engine)
        if migrate:
            try:
                migrations.upgrade(engine, before_migration)
            except SQLAlchemyError as exc:
                engine.dispose()
                raise StoreError(f"store: cannot open {_safe(url)}: {_first_line(exc)}") from None
        if background_checkpoints and store.dialect == "sqlite":
            store.checkpointer = Checkpointer(engine)
            store.checkpointer.start()
        return store

    @classmethod
    def _read_only(cls, url: str) -> Store:
        store = cls(read_only_engine(url))
        try:
            version = store.schema_version()
        except SQLAlchemyError as exc:
            store.close()
            raise StoreError(f"store: cannot read {_safe(url)}: {_first_line(exc)}") from None
        if version < migrations.HEAD:
            store.close()
            raise StoreError(
                f"store: {_safe(url)} is at schema version {version} and this ingestd needs "
                f"{migrations.HEAD}; run `ingest db upgrade` as a user who may write it"
            )
        return store

    def close(self) -> None:
        with self._kept_lock:
            kept, self._kept_all = self._kept_all, []
        for conn in kept:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = write
                with conn.begin():
                    yield Transaction(conn)
        except OperationalError as exc:
            if is_disk_full(exc):
                raise StoreFullError(
                    f"store: no space left for the database ({_first_line(exc)})"
                ) from None
            raise StoreError(f"store: {_first_line(exc)}") from None

    @contextmanager
    def statements(self) -> Iterator[Transaction]:
        """Statements that each commit on their own, on a connection this thread keeps between
        calls: no pool checkout, no liveness ping, no BEGIN and COMMIT round trips. For the
        single-statement writes made around every request (shared host turns and slots), where
        those cost more than the statement. A connection that fails is dropped (the next call
        opens another); errors are :class:`StoreError` as for :meth:`transaction`. On SQLite
        (one process, no round trips) it is :meth:`transaction`."""
        if self.dialect == "sqlite":
            with self.transaction() as tx:
                yield tx
            return
        conn: Connection | None = getattr(self._kept, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.info["write"] = True
            self._kept.conn = conn
            with self._kept_lock:
                self._kept_all.append(conn)
        try:
            yield Transaction(conn)
        except SQLAlchemyError as exc:
            self._kept.conn = None
            with self._kept_lock:
                if conn in self._kept_all:
                    self._kept_all.remove(conn)
            with contextlib.suppress(SQLAlchemyError):
                conn.close()
            if isinstance(exc, OperationalError):
                if is_disk_full(exc):
                    raise StoreFullError(
                        f"store: no space left for the database ({_first_line(exc)})"
                    ) from None
                raise StoreError(f"store: {_first_line(exc)}") from None
            raise

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return migrations.current_version(conn)


def _safe(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__


class Transaction(FeedQueries, KeyQueries, LinkQueries, ClusterQueries):
    """Queries and writes within one open transaction, by entity: feeds and hosts
    (:mod:`.feeds`), items (:mod:`.items`), near-duplicate keys (:mod:`.keys`), links
    (:mod:`.links`), clusters (:mod:`.clusters`)."""
