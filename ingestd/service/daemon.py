"""The long-running service: APScheduler polls due feeds until SIGTERM or SIGINT.

* **Scheduling.** A job runs every ``TICK_S`` seconds on the event loop. When no pass is in
  flight it starts one: :meth:`Pipeline.run_due`, the very code ``ingest --once`` runs, over the
  feeds the store says are due (concurrency bounded by the fetcher's ``[http]`` limits).
  Another job applies ``[retention]`` every ``RETENTION_EVERY_S``, in small batches.
* **Signals.** After the first SIGTERM/SIGINT no new poll starts (no new pass, and the pass in
  flight claims no more feeds); the polls in flight get ``[service] shutdown_timeout_s`` (less
  a cleanup margin) to finish and are then cancelled.
  Each poll is one transaction, so a cancelled poll leaves nothing behind and is redone at the
  next start. The process exits 0 within the timeout (a deadline thread makes sure). A second
  signal exits at once with 128 + the signal number; committed polls are complete and the rest
  was never written. SIGHUP reloads the configuration between passes (see :meth:`_reload`).
* **systemd** (``Type=notify``): ``READY=1`` once the store is open, migrated and the feeds
  synchronised; ``STATUS=`` after every pass; ``WATCHDOG=1`` from a job on the same event loop,
  only while the scheduler ticks and a running pass makes progress, so a stuck loop stops the
  pings and systemd restarts the service; ``STOPPING=1`` on shutdown.
* **Observability.** With ``[metrics] listen``, an HTTP listener serves ``/metrics`` and
  ``/healthz`` (200 only while the loop is alive and the store answers), and the read-only web
  pages (:mod:`ingestd.service.web`) unless ``[web] listen`` gives them a listener of their own.
* **A full disk.** When the store has no space left (:class:`StoreFullError`) the pass stops
  without blaming any feed, and the daemon pauses: no pass starts, ``/healthz`` answers 503,
  and an error line is logged once a minute. A pass is tried again once a minute, or at the
  next tick when space was freed (see :mod:`ingestd.service.pause`), after a one-row probe write
  succeeds; polling then resumes where it stopped (nothing was stored of the interrupted
  polls, so they are done again).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ingestd.config import Settings, load_settings
from ingestd.errors import ConfigError, IngestdError, StoreFullError
from ingestd.fetch import Fetcher
from ingestd.pipeline import Pipeline, RunSummary
from ingestd.pipeline.events import FanOut
from ingestd.pipeline.runner import open_pipeline, open_store
from ingestd.service import retention
from ingestd.service.endpoints import Endpoints, Liveness
from ingestd.service.listener import Handler, Listener, split_address
from ingestd.service.metrics import Metrics
from ingestd.service.notify import Notifier, watchdog_period_s
from ingestd.service.pause import StorePause
from ingestd.service.reload import describe_changes
from ingestd.service.web.serve import auth_for, pages_for, reach, with_feeds
from ingestd.store import Store
from ingestd.store.migrations import Migration
from ingestd.store.upkeep import probe_write

TICK_S = 10.0  # how often the scheduler looks for due feeds
RETENTION_EVERY_S = 600.0  # how often retention runs (when [retention] days is set)
CLEANUP_S = 2.0  # of the shutdown timeout, kept for closing the pool, fetcher and store
MIGRATION_START_TIMEOUT_US = 3_600_000_000  # start-up time systemd grants each migration, µs (1 h)
log = structlog.get_logger("ingestd.daemon")


class Service:
    """The daemon's state: settings, pipeline, scheduler jobs, listener, systemd notifier."""

    def __init__(self, settings: Settings, store: Store, notifier: Notifier) -> None:
        self.settings = settings
        self.store = store
        self.notifier = notifier
        self.metrics = Metrics()
        self.liveness = Liveness(TICK_S)
        self.events = FanOut(self.metrics, self.liveness)
        self.endpoints = Endpoints(
            store, self.metrics, self.liveness, lambda: len(self.settings.feeds)
        )
        self.pipeline: Pipeline | None = None
        self.fetcher: Fetcher | None = None
        self._pipeline_scope: contextlib.AsyncExitStack | None = None
        self.listener: Listener | None = None
        self.web = pages_for(store, settings)
        self.web_listener: Listener | None = None  # [web] listen
        self.pass_task: asyncio.Task[None] | None = None
        self.retention_task: asyncio.Task[Any] | None = None
        self.stop = asyncio.Event()
        self.stopping = False
        self.reload_requested = False
        self.last_pass: RunSummary | None = None  # the last pass that polled something
        self.last_pass_at = datetime.now(UTC)
        self._tick_lock = asyncio.Lock()
        self._deadline: threading.Timer | None = None
        self._watchdog_problem: str | None = None
        self.pause = StorePause(settings.database_url)
        self.failure: IngestdError | None = None  # why the daemon stopped by itself, if it did

    # --- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        self._install_signals()
        await self._open_pipeline()
        try:
            await self._start_listener(self.settings.metrics.listen, fatal=True)
            await self._start_web_listener(self.settings.web.listen, fatal=True)
            scheduler = self._scheduler()
            scheduler.start()
            log.info("started", feeds=len(self.settings.feeds), database=self.store.dialect)
            if not self.stopping:
                self.notifier.ready(self._status_line())
            await self.stop.wait()
            scheduler.shutdown(wait=False)
            async with self._tick_lock:  # a reload in progress completes first
                await self._drain()
        finally:
            await self._close_pipeline()
            for listener in (self.listener, self.web_listener):
                if listener is not None:
                    await listener.close()
            self.endpoints.close()
            self.web.close()
        if self._deadline is not None:
            self._deadline.cancel()
        if self.failure is not None:
            raise self.failure
        log.info("stopped")

    def _scheduler(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
        now = datetime.now(UTC)
        every: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        scheduler.add_job(self._tick, "interval", seconds=TICK_S, next_run_time=now, **every)
        scheduler.add_job(
            self._retention,
            "interval",
            seconds=RETENTION_EVERY_S,
            next_run_time=now + timedelta(seconds=TICK_S),
            **every,
        )
        if (period := watchdog_period_s()) is not None:
            scheduler.add_job(
                self._watchdog, "interval", seconds=period, next_run_time=now, **every
            )
        return scheduler

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._first_signal, signum)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)

    def _first_signal(self, signum: int) -> None:
        log.info("signal received, stopping", signal=signal.Signals(signum).name)
        self.stopping = self.liveness.stopping = True
        if self.pipeline is not None:
            self.pipeline.stop()  # no more claims; polls still waiting for a host give up
        self.notifier.stopping("stopping: letting polls in flight finish")
        loop = asyncio.get_running_loop()
        for again in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(again, _exit_now, again)
        timeout_s = self.settings.service.shutdown_timeout_s
        self._deadline = threading.Timer(timeout_s, _deadline_reached, (timeout_s,))
        self._deadline.daemon = True
        self._deadline.start()
        self.stop.set()

    async def _drain(self) -> None:
        """Let the pass in flight finish within the shutdown budget, then cancel it."""
        if self.retention_task is not None:
            self.retention_task.cancel()  # each batch is one transaction; the rest waits
        task = self.pass_task
        if task is None or task.done():
            return
        budget_s = max(0.0, self.settings.service.shutdown_timeout_s - CLEANUP_S)
        _done, pending = await asyncio.wait({task}, timeout=budget_s)
        if pending:
            log.warning("polls in flight abandoned at shutdown", waited_s=budget_s)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # --- the pipeline ------------------------------------------------------------------------

    async def _open_pipeline(self) -> None:
        scope = contextlib.AsyncExitStack()
        try:
            pipeline, fetcher = await scope.enter_async_context(
                open_pipeline(self.settings, self.store, self.events)
            )
        except BaseException:
            await scope.aclose()
            raise
        self._pipeline_scope, self.pipeline, self.fetcher = scope, pipeline, fetcher

    async def _close_pipeline(self) -> None:
        scope, self._pipeline_scope = self._pipeline_scope, None
        self.pipeline = self.fetcher = None
        if scope is not None:
            await scope.aclose()

    # --- scheduler jobs ----------------------------------------------------------------------

    async def _tick(self) -> None:
        """Start a pass unless one is in flight (applying a requested reload first), or while
        the store is full, unless a probe finds space again."""
        self.liveness.ticked()
        if self.stopping or self._tick_lock.locked() or _running(self.pass_task):
            return
        async with self._tick_lock:
            if self.reload_requested:
                await self._reload()
            if self.pause.problem is not None and not await self._store_has_room():
                return
            if not self.stopping and self.pipeline is not None:
                self.pass_task = asyncio.create_task(self._pass(self.pipeline, self.fetcher))

    def _store_full(self, error: StoreFullError) -> None:
        """Pause: /healthz fails, an error line once a minute, passes wait for space."""
        self.liveness.store_problem = str(error)
        self.notifier.status(f"paused: {error}")
        if self.pause.failed(str(error)):
            log.error("store full; polling paused until there is space", error=str(error))

    async def _store_has_room(self) -> bool:
        """Once a minute, or as soon as space was freed, probe the full store with a one-row
        write; resume when it succeeds."""
        if self.pipeline is None or not self.pause.retry_due():
            return False
        try:
            await self.pipeline.db(probe_write)
        except StoreFullError as exc:
            self._store_full(exc)
            return False
        except Exception as exc:  # another store problem: the pass will meet and log it
            log.warning("store probe failed", error=str(exc) or type(exc).__name__)
            return True
        log.info("store has space again; polling resumes")
        self.liveness.store_problem = None
        self.pause.resumed()
        return True

    async def _pass(self, pipeline: Pipeline, fetcher: Fetcher | None) -> None:
        assert fetcher is not None
        self.liveness.busy = True
        self.liveness.progressed()
        try:
            summary = await pipeline.run_due(fetcher)
        except StoreFullError as exc:
            self._store_full(exc)
            return
        except Exception:  # e.g. the database went away: log, stay up, try again next tick
            log.exception("pass failed")
            self.notifier.status("last pass failed (see the log); retrying")
            return
        finally:
            self.liveness.busy = False
        if summary.feeds_polled:
            self.last_pass, self.last_pass_at = summary, datetime.now(UTC)
            log.info(
                "pass",
                feeds=summary.feeds_polled,
                new=summary.new_items,
                republications=summary.republications,
                failures=summary.failures,
            )
        self.notifier.status(self._status_line())
        if self.reload_requested and not self.stopping:
            asyncio.get_running_loop().call_soon(self._kick)

    def _status_line(self) -> str:
        last = self.last_pass
        if last is None:
            return "running; nothing polled yet"
        return (
            f"last pass {self.last_pass_at:%H:%M:%S} UTC: {last.feeds_polled} feeds polled, "
            f"{last.new_items} new, {last.republications} republications, {last.failures} failed"
        )

    async def _retention(self) -> None:
        days = self.settings.retention.days
        if days <= 0 or self.stopping or self.pipeline is None or _running(self.retention_task):
            return
        self.retention_task = asyncio.create_task(
            retention.prune(self.pipeline, days, lambda: self.stopping)
        )
        with contextlib.suppress(asyncio.CancelledError):
            await self.retention_task

    async def _watchdog(self) -> None:
        """Ping systemd's watchdog while the loop is alive (this job runs on the loop)."""
        problem = self.liveness.problem()
        if problem is None:
            self.notifier.watchdog()
        elif problem != self._watchdog_problem:
            log.error("watchdog: the scheduling loop looks stuck; not pinging", reason=problem)
        self._watchdog_problem = problem

    def _kick(self) -> None:
        if not self.stopping:
            asyncio.get_running_loop().create_task(self._tick())

    # --- SIGHUP ------------------------------------------------------------------------------

    def _request_reload(self) -> None:
        log.info("signal received, reloading the configuration", signal="SIGHUP")
        self.reload_requested = True
        self._kick()  # at once when no pass is in flight, else when it ends

    async def _reload(self) -> None:
        """Read the configuration again; apply it (new pipeline) or keep the running one."""
        self.reload_requested = False
        self.notifier.reloading()
        old = self.settings
        try:
            new = await asyncio.to_thread(load_settings, old.source)
        except ConfigError as exc:
            log.error("reload rejected; keeping the running configuration", error=str(exc))
            self.notifier.ready(f"reload rejected: {exc}")
            return
        if new.database_url != old.database_url:
            log.warning("reload: the database cannot change while running; restart to use it")
            new = replace(new, database_url=old.database_url)
        changes = describe_changes(old, new)
        if not changes:
            log.info("reload: configuration unchanged")
            self.notifier.ready(self._status_line())
            return
        log.info("reload", changes=changes)
        if self.retention_task is not None:
            self.retention_task.cancel()
            await asyncio.gather(self.retention_task, return_exceptions=True)
        await self._close_pipeline()
        self.settings = new
        try:
            await self._open_pipeline()
        except IngestdError as exc:
            log.error("reload failed; back to the previous configuration", error=str(exc))
            self.settings = old
            try:
                await self._open_pipeline()
            except IngestdError as again:  # the store itself is gone: stop, exit 1
                self.failure = again
                self.stopping = self.liveness.stopping = True
                self.stop.set()
                return
        self.web.dedup, self.web.auth = new.dedup, auth_for(new)
        if new.web.listen != old.web.listen:
            await self._start_web_listener(new.web.listen, fatal=False)
        if new.metrics.listen != old.metrics.listen:
            await self._start_listener(new.metrics.listen, fatal=False)
        elif self.listener is not None:  # [metrics] public_url or [web] listen may have changed
            self.listener.routes = self.routes()
            self.endpoints.public_url = new.metrics.public_url or public_url(
                self.listener.address, self.listener.port
            )
        self.notifier.ready(self._status_line())

    # --- HTTP listener -----------------------------------------------------------------------

    def routes(self) -> dict[str, Handler]:
        """Path → handler served by the listener: ``/metrics``, ``/healthz``, the feeds, and the
        web pages when ``[web] listen`` does not give them a listener of their own (their ``/``
        replaces the endpoints' small index page)."""
        routes = self.endpoints.routes()
        if self.settings.web.listen is None:
            routes.update(self.web.routes())
        return routes

    async def _start_listener(self, address: str | None, fatal: bool) -> None:
        """(Re)start the listener on ``address`` (None: stop it). A taken port stops the daemon
        at start (``fatal``) and only logs an error on reload (the old listener stays)."""
        self.listener, bound = await _replace_listener(
            self.listener, address, self.routes, "metrics", fatal
        )
        if bound is None or self.listener is None or address is None:
            return
        host, port = bound
        public = self.settings.metrics.public_url or public_url(address, port)
        self.endpoints.public_url = public
        paths = sorted(self.listener.routes)
        log.info("listening", address=f"{host}:{port}", public_url=public, paths=paths)
        if self.settings.web.listen is None:
            self._say_reach(address)

    async def _start_web_listener(self, address: str | None, fatal: bool) -> None:
        """(Re)start the web pages' own listener on ``address`` (None: stop it), as
        :meth:`_start_listener` does the metrics one."""
        self.web_listener, bound = await _replace_listener(
            self.web_listener, address, lambda: with_feeds(self.web, self.endpoints), "web", fatal
        )
        if bound is None or address is None:
            return
        host, port = bound
        log.info("web pages listening", address=f"{host}:{port}")
        self._say_reach(address)

    def _say_reach(self, address: str) -> None:
        """Log who can open the web pages served on ``address``."""
        log.info("web pages: " + reach(split_address(address)[0], self.web.auth is not None))


def public_url(address: str, bound_port: int) -> str:
    """The default public URL of a listener on ``address`` (``host:port``) bound to
    ``bound_port``: ``http://host:port/`` (IPv6 hosts in brackets)."""
    host, _ = split_address(address)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{bound_port}/"


def _running(task: asyncio.Task[Any] | None) -> bool:
    return task is not None and not task.done()


def _exit_now(signum: int) -> None:
    """Second signal: leave at once. Committed polls are complete; the rest was never written."""
    log.warning("second signal, exiting now", signal=signal.Signals(signum).name)
    os._exit(128 + signum)


def _deadline_reached(timeout_s: float) -> None:
    """The shutdown took longer than allowed: exit anyway (every poll is one transaction)."""
    log.warning("shutdown timeout reached, exiting now", timeout_s=timeout_s)
    os._exit(0)


def run_daemon(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; returns normally after a clean stop.

    Raises :class:`ingestd.service.lock.DatabaseBusyError` when another process writes to the same
    SQLite database, and :class:`~ingestd.errors.StoreError` when the store cannot be opened.
    """
    notifier = Notifier()

    def migrating(migration: Migration) -> None:
        # READY=1 waits for the migrations; one that rewrites a large table takes minutes,
        # longer than the unit's TimeoutStartSec: systemd is asked to wait for it.
        notifier.send(
            f"EXTEND_TIMEOUT_USEC={MIGRATION_START_TIMEOUT_US}",
            f"STATUS=applying schema migration {migration.version}: {migration.description}",
        )

    try:
        with open_store(settings, before_migration=migrating) as store:
            asyncio.run(Service(settings, store, notifier).run())
    finally:
        notifier.close()


async def _replace_listener(
    current: Listener | None,
    address: str | None,
    routes: Callable[[], dict[str, Handler]],
    section: str,
    fatal: bool,
) -> tuple[Listener | None, tuple[str, int] | None]:
    """The listener to keep and where it listens (None when it did not start anew): a new one
    on ``address`` replacing ``current`` once it listens; none when ``address`` is None. A
    new one that cannot listen is an :class:`IngestdError` with ``fatal`` (at start), else an
    error line, and ``current`` stays."""
    if address is None:
        if current is not None:
            await current.close()
        return None, None
    listener = Listener(address, routes())
    try:
        bound = await listener.start()
    except OSError as exc:
        message = f"{section}: cannot listen on {address}: {exc.strerror or exc}"
        if fatal:
            raise IngestdError(message) from None
        log.error(message)
        return current, None
    if current is not None:
        await current.close()
    return listener, bound
