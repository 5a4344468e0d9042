"""``sociallearn export``: a run's learned prompts and results in other tools' formats.

Formats: ``text`` (the learned prompt, byte for byte), ``json`` (the prompt, its parts and the
rendering rule), ``lm-eval`` (an lm-evaluation-harness task YAML), ``inspect`` (an inspect_ai
task file), ``parquet`` (the results tables) and ``carry`` (the finished units without dataset
text or labels, to resume the run elsewhere: :mod:`sociallearn.export.carry`). Every prompt
export is checked, before it is written, to give the student's exact input for each evaluated
item when the format's own rule is applied to it.
"""

from __future__ import annotations

from pathlib import Path

from sociallearn.errors import UserError
from sociallearn.export.results import load_predictions, load_results

FORMATS = ("text", "json", "lm-eval", "inspect", "parquet", "carry")

__all__ = ["FORMATS", "export_run", "load_predictions", "load_results"]


def export_run(
    run_dir: Path,
    fmt: str,
    unit: str | None = None,
    out_dir: Path | None = None,
    data_dir: Path | None = None,
) -> list[Path]:
    """Write ``fmt`` files for the units of ``run_dir`` (or the one named ``unit``) into
    ``out_dir`` (default ``RUN_DIR/export/FMT``); returns the files written."""
    if fmt not in FORMATS:
        raise UserError(f"--format: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    out = out_dir if out_dir is not None else run_dir / "export" / fmt
    if fmt == "parquet":
        from sociallearn.export.results import write_parquet

        if unit is not None:
            raise UserError("--unit: parquet exports the whole run; leave --unit out")
        return write_parquet(run_dir, out)
    if fmt == "carry":
        from sociallearn.export.carry import write_carry

        if unit is not None:
            raise UserError("--unit: carry takes the whole run; leave --unit out")
        return write_carry(run_dir, out)
    from sociallearn.export.source import load_units
    from sociallearn.export.writers import WRITERS, Options

    units = load_units(run_dir, unit)
    options = Options(run_dir, out, data_dir)
    writer = WRITERS[fmt]
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for item in units:
        paths.extend(writer(item, options))
    return paths
