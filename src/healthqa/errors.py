"""The project's exceptions: one tree, each message saying what to do next.

    HealthQAError
     ├── SourceError      an input page or file cannot be used (it names the input)
     ├── IndexProblem     base of problems with the on-disk index
     │    ├── IndexMissing    no index at the path: build one
     │    ├── IndexMismatch   built with another model or format version: rebuild
     │    └── IndexCorrupt    a file is damaged or missing: rebuild
     └── ConfigError      a setting has an unusable value
          └── MissingExtra    an optional engine or runner is asked for without its packages
"""

from __future__ import annotations


class HealthQAError(Exception):
    """Base of every error the library raises on purpose."""


class SourceError(HealthQAError):
    """An input (file, folder, URL) cannot be read or used; `reason` says why, without the source's name."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # pickled as it was made: it travels to Ray workers
        return (SourceError, (self.source, self.reason))


class IndexProblem(HealthQAError):
    """The index on disk cannot be used as it is."""


class IndexMissing(IndexProblem):
    """No index exists at the given path."""


class IndexMismatch(IndexProblem):
    """The index was built with another model or format version."""


class IndexCorrupt(IndexProblem):
    """A file of the index is damaged, truncated or missing."""


class ConfigError(HealthQAError):
    """A setting has a value the library cannot use."""


class MissingExtra(ConfigError):
    """A feature needs an optional dependency that is not installed."""

    def __init__(self, feature: str, missing: str, install: str = "pip install 'healthqa[scale]'") -> None:
        super().__init__(f"{feature} needs the 'scale' extra ({missing} is not installed): {install}")
