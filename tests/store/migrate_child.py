"""A child process that opens a version 1 store and SIGKILLs itself in the middle of its migration.

python -m tests.store.migrate_child PATH STATEMENTS   (the kill comes after STATEMENTS of the step ran)
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import structlog

from monitor.store import CandleStore, opening
from monitor.store.schema import MIGRATIONS, prepare


def killed_after(statements: Sequence[str], count: int) -> Iterator[str]:
    """`statements`, with the process killed once `count` of them ran (inside the step's transaction)."""
    for ran, statement in enumerate(statements):
        if ran == count:
            os.kill(os.getpid(), signal.SIGKILL)
        yield statement
    os.kill(os.getpid(), signal.SIGKILL)  # all ran: killed before the version is set and committed


class KilledStep(Sequence[str]):
    """The step from version 1, as a sequence that kills the process while it is being run."""

    def __init__(self, statements: Sequence[str], count: int) -> None:
        self._statements = statements
        self._count = count

    def __getitem__(self, index: int) -> str:  # type: ignore[override]  # only iterated
        return self._statements[index]

    def __len__(self) -> int:
        return len(self._statements)

    def __iter__(self) -> Iterator[str]:
        return killed_after(self._statements, self._count)


def main() -> None:
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    path, count = Path(sys.argv[1]), int(sys.argv[2])
    steps = {**MIGRATIONS, 1: KilledStep(MIGRATIONS[1], count)}
    setattr(opening, "prepare", functools.partial(prepare, migrations=steps))  # noqa: B010  # the child's own copy
    CandleStore.open(path)
    print("not killed", flush=True)


if __name__ == "__main__":
    main()
