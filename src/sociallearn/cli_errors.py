"""The command line's consoles and how a command ends on a fault or a signal: one ``error:``
line (exit 2), or the resume line after Ctrl-C (130) or SIGTERM (143)."""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

import typer
from rich.console import Console

from sociallearn.errors import SocialLearnError

# Piped output (logs, CI) is not wrapped at 80 columns: unit keys must stay on one line.
# Markup and emoji codes off: names, paths and labels from users and data (``[/INST]``,
# ``sociallearn[hub]``) are printed as they are; styles are applied with Text objects instead.
console = Console(width=None if sys.stdout.isatty() else 160, markup=False, emoji=False)
err_console = Console(
    stderr=True, width=None if sys.stderr.isatty() else 400, markup=False, emoji=False
)


def styled(label: str, style: str, text: object) -> Any:
    from rich.text import Text

    return Text.assemble((label, style), " ", str(text))


def warn(message: str) -> None:
    """One ``warning:`` line on stderr (the run goes on)."""
    err_console.print(styled("warning:", "yellow", message), highlight=False)


# Faults that end a command with one line instead of a traceback.
HANDLED: tuple[type[BaseException], ...] = (
    SocialLearnError,
    OSError,
    sqlite3.Error,
    KeyboardInterrupt,
)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill PID``, a batch scheduler ending a job): stop as after Ctrl-C. A job started
    in the background of a script ignores SIGINT (the shell's rule), so this is how one stops."""


def on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def interrupted(error: KeyboardInterrupt) -> int:
    """Print the resume line; the exit code a shell gives the signal (143 for SIGTERM)."""
    err_console.print(
        "interrupted; finished units are saved, rerun the same command to resume",
        highlight=False,
    )
    return 143 if isinstance(error, Terminated) else 130


def fail(error: BaseException) -> None:
    if isinstance(error, KeyboardInterrupt):
        raise typer.Exit(code=interrupted(error))
    if isinstance(error, OSError) and not isinstance(error, SocialLearnError):
        where = error.filename if error.filename is not None else "file system"
        text = f"{where}: {error.strerror or error}"
    elif isinstance(error, sqlite3.Error):
        text = f"SQLite database error ({error}); the stores keep every finished unit"
    else:
        text = str(error)
    err_console.print(styled("error:", "bold red", text), highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)
