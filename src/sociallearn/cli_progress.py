"""Rich progress bars for a run: one overall bar (units, time left) and one for test items."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sociallearn.experiment.units import UnitKey


class RichReporter:
    """Implements :class:`sociallearn.experiment.runner.RunReporter` with rich progress bars."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress = Progress(
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._overall: TaskID | None = None
        # One items bar per unit in flight (several with a parallel executor).
        self._items: dict[UnitKey, TaskID] = {}

    def __enter__(self) -> RichReporter:
        self._progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def start(self, total_units: int, already_done: int) -> None:
        if already_done:
            self.console.print(f"resuming: {already_done} of {total_units} units already done")
        self._overall = self._progress.add_task("units", total=total_units, completed=already_done)

    def unit_started(self, key: UnitKey, n_items: int) -> None:
        self._items[key] = self._progress.add_task(f"  {key}", total=n_items)

    def items_done(self, key: UnitKey, count: int) -> None:
        if key in self._items:
            self._progress.advance(self._items[key], count)

    def unit_finished(self, key: UnitKey, row: dict[str, Any]) -> None:
        if key in self._items:
            self._progress.remove_task(self._items.pop(key))
        if self._overall is not None:
            self._progress.advance(self._overall, 1)
        self.console.print(
            f"  done {key}: accuracy {row['accuracy']:.3f} "
            f"({row['n_correct']}/{row['n_items']}), "
            f"teach {row['timings']['teach_s']:.1f}s, eval {row['timings']['eval_s']:.1f}s"
        )
