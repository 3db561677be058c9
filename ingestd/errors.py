"""The exceptions ingestd raises, drawn once.

::

    IngestdError                 anything ingestd raises on purpose
    ├── UserError                the operator's mistake; the CLI prints one line and exits 2
    │   ├── ConfigError          a missing, malformed or invalid configuration file or value
    │   └── NotFoundError        an id or URL given on the command line names nothing stored
    └── StoreError               the database cannot be opened, migrated or written; exit 1
        └── StoreFullError       no space left for the database (disk full): the store's
                                 failure, never recorded against a feed

Expected outcomes of the pipeline (a 304, a duplicate, an empty extraction, a failing feed)
are values in :mod:`ingestd.model`, never exceptions.
"""


class IngestdError(Exception):
    """Base class of every error ingestd raises on purpose."""


class UserError(IngestdError):
    """A mistake the operator can fix: the CLI prints the message alone and exits with 2."""


class ConfigError(UserError):
    """A configuration problem; the message names the file and the key."""


class NotFoundError(UserError):
    """An item, cluster or feed named on the command line does not exist."""


class StoreError(IngestdError):
    """The database could not be opened, migrated or written."""


class StoreFullError(StoreError):
    """The disk holding the database is full (SQLite's "database or disk is full", ENOSPC,
    PostgreSQL's disk_full): a pass stops, the daemon pauses, and no feed is blamed."""
