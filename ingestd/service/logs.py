"""Logging setup (structlog): pretty on a terminal, JSON lines otherwise, to stderr."""

from __future__ import annotations

import logging
import sys

import structlog

from ingestd.safetext import visible

# Tracebacks as data, without local variables: a frame's locals (a feed's whole body, say)
# would make one log line tens of kilobytes long.
_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


def configure(verbose: bool = False, json_output: bool | None = None) -> None:
    """Configure structlog once. ``json_output`` defaults to "stderr is not a terminal"."""
    level = logging.DEBUG if verbose else logging.INFO
    as_json = not sys.stderr.isatty() if json_output is None else json_output
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=True)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _TRACEBACKS if as_json else structlog.dev.set_exc_info,
            _drop_none,
            _visible_text,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def _drop_none(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Leave out fields whose value is None, so every line stays short."""
    return {key: value for key, value in event.items() if value is not None}


def _visible_text(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Spell out control characters in text fields (feed URLs, titles and errors come from
    strangers; on a terminal an escape sequence in them would be obeyed)."""
    return {
        key: visible(value) if isinstance(value, str) else value for key, value in event.items()
    }
