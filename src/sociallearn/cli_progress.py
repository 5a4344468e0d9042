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
        warning = shortfall_warning(row)
        if warning:
            self.console.print(f"  [yellow]warning:[/] {warning}", highlight=False)


def shortfall_warning(row: dict[str, Any]) -> str | None:
    """Why a unit taught fewer examples than asked, in words a user can act on (or None).

    The unit's result is still stored (``shortfall`` records the gap); the warning makes a
    setting that silently starves teaching visible while the run goes on.
    """
    shortfall, wanted = row["shortfall"], row["n"]
    if shortfall <= 0:
        return None
    text = f"taught {wanted - shortfall} of {wanted} examples"
    if (row.get("privacy") or {}).get("stopped_by_budget"):
        return f"{text}: the privacy budget (max_epsilon) stopped teaching"
    leakage = row.get("leakage") or {}
    examined = leakage.get("n_examined", 0)
    malformed = leakage.get("n_malformed", 0)
    truncated = leakage.get("n_truncated", 0)
    rejected = leakage.get("n_rejected", 0)
    if truncated:
        return (
            f"{text}: {truncated} of {examined} teacher continuations reached "
            "synthesis.max_tokens before an example ended; raise synthesis.max_tokens"
        )
    if examined and not malformed and not rejected:
        return (
            f"{text}: no round released a new candidate (repeats, or a private vote without "
            "consensus)"
        )
    if examined:
        return (
            f"{text}: {malformed} of {examined} teacher continuations were not in the task's "
            f"format, {rejected} examples were stopped by filters (the leakage gate)"
        )
    return text
