"""The command line: a thin layer over the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from sociallearn.cli_errors import (
    HANDLED,
    console,
    fail,
    interrupted,
    on_sigterm,
    warn,
)
from sociallearn.errors import UserError

if TYPE_CHECKING:
    from sociallearn.experiment.config import ExperimentConfig
    from sociallearn.experiment.executors import Executor

app = typer.Typer(
    help="Social learning among LLMs: teachers teach a student in natural language.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


DEFAULT_CONFIG = Path(__file__).parent / "presets" / "sms_spam.yaml"

ConfigArg = Annotated[
    Path | None, typer.Argument(help="experiment YAML (default: the SMS spam demo)")
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="model spec for every role, e.g. llamacpp:/m.gguf")
]
TeachersOpt = Annotated[int | None, typer.Option("--teachers", help="number of teachers")]
NOpt = Annotated[list[int] | None, typer.Option("--n", help="examples taught (repeatable)")]
SeedOpt = Annotated[list[int] | None, typer.Option("--seed", help="seed (repeatable)")]
SeedsOpt = Annotated[int | None, typer.Option("--seeds", help="use seeds 0..N-1")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="test items per unit")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="run directory")]
TaskOpt = Annotated[
    list[str] | None, typer.Option("--task", help="task name or task YAML (repeatable)")
]
MethodOpt = Annotated[
    list[str] | None, typer.Option("--method", help="teaching method (repeatable)")
]
AggregatorOpt = Annotated[
    list[str] | None,
    typer.Option("--aggregator", help="aggregator of the methods that use one (repeatable)"),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="folder with the datasets", envvar="SOCIALLEARN_DATA_DIR"),
]
ModeOpt = Annotated[str | None, typer.Option("--answer-mode", help="generate or score")]
ModelOptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model-option",
        "-O",
        help="a model option KEY=VALUE, added to model_options (repeatable), e.g. weights=f32",
    ),
]
ExecutorOpt = Annotated[
    str | None,
    typer.Option("--executor", help="where units run: local (default), processes or ray"),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="parallel workers (processes on this machine, or Ray actors)"),
]
AddressOpt = Annotated[
    str | None,
    typer.Option("--address", help="Ray cluster: auto or ray://host:10001 (default: start one)"),
]
NumCpusOpt = Annotated[
    float | None, typer.Option("--num-cpus", help="Ray: CPUs per worker (llama.cpp threads)")
]
MemoryOpt = Annotated[
    float | None, typer.Option("--memory", help="Ray: memory reserved per worker, in GiB")
]
NumGpusOpt = Annotated[float | None, typer.Option("--num-gpus", help="Ray: GPUs per worker")]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="use --out even if it holds files that are not a run's"),
]
AuditConfigArg = Annotated[
    Path | None, typer.Argument(help="experiment YAML (default: the paper's canary audit preset)")
]


def _model_options(cfg: ExperimentConfig, pairs: list[str] | None) -> ExperimentConfig:
    """``cfg`` with ``KEY=VALUE`` pairs merged into its model options (values read as YAML)."""
    if not pairs:
        return cfg
    import yaml

    extra: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--model-option: expected KEY=VALUE, got {pair!r}")
        extra[key.strip()] = yaml.safe_load(value) if value else ""
    return cfg.model_copy(update={"model_options": {**cfg.model_options, **extra}})


def _overrides(**kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if value is None or value == []:
            continue
        out[key] = value
    if "seeds_count" in out:
        count = out.pop("seeds_count")
        # --seeds is a count, not a seed: "--seeds 0" would ask for no seeds at all, and a count
        # beside explicit --seed values would silently replace them.
        if "seeds" in out:
            raise UserError(
                "--seed and --seeds: give one (--seed S for given seeds, --seeds N for 0..N-1)"
            )
        if count < 1:
            raise UserError(
                f"--seeds {count}: expected a count of at least 1 (seeds 0..N-1); "
                "for seed 0 alone use --seed 0"
            )
        out["seeds"] = list(range(count))
    return out


def _executor(
    cfg: ExperimentConfig,
    executor: str | None,
    workers: int | None,
    address: str | None,
    num_cpus: float | None,
    memory: float | None,
    num_gpus: float | None,
) -> Executor:
    from sociallearn.experiment.executors import ExecutorSettings, make_executor

    settings = ExecutorSettings(executor, workers, address, num_cpus, memory, num_gpus)
    return make_executor(
        settings,
        cfg,
        warn=warn,
    )


@app.command()
def run(
    config: ConfigArg = None,
    model: ModelOpt = None,
    teachers: TeachersOpt = None,
    n: NOpt = None,
    seed: SeedOpt = None,
    seeds: SeedsOpt = None,
    limit: LimitOpt = None,
    out: OutOpt = None,
    task: TaskOpt = None,
    method: MethodOpt = None,
    aggregator: AggregatorOpt = None,
    data_dir: DataDirOpt = None,
    answer_mode: ModeOpt = None,
    model_option: ModelOptionOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="list the units, model calls and wall time, run nothing"),
    ] = False,
    executor: ExecutorOpt = None,
    workers: WorkersOpt = None,
    address: AddressOpt = None,
    num_cpus: NumCpusOpt = None,
    memory: MemoryOpt = None,
    num_gpus: NumGpusOpt = None,
    force: ForceOpt = False,
) -> None:
    """Run an experiment grid (teach, evaluate, store); resumes a run of the same config."""
    try:
        from sociallearn.experiment.config import load_config

        cfg = load_config(
            config or DEFAULT_CONFIG,
            _overrides(
                model=model,
                teachers=teachers,
                n=n,
                seeds=seed,
                seeds_count=seeds,
                limit=limit,
                out=out,
                tasks=task,
                methods=method,
                aggregators=aggregator,
                data_dir=data_dir,
                answer_mode=answer_mode,
            ),
        )
        cfg = _model_options(cfg, model_option)
        runner = _executor(cfg, executor, workers, address, num_cpus, memory, num_gpus)
        if dry_run:
            from sociallearn.experiment.plan import print_plan

            print_plan(cfg, console)
            return
        from sociallearn.cli_progress import RichReporter
        from sociallearn.experiment.runner import run_experiment

        _prepare_run_dir(cfg, force)
        console.print(f"run directory: {cfg.run_dir}; executor: {runner.label}")
        with RichReporter(console) as reporter:
            summary = run_experiment(
                cfg,
                reporter,
                executor=runner,
                warn=warn,
            )
        _print_results(summary.run_dir_rows)
        _write_report(cfg.run_dir)
        console.print(
            f"{summary.computed} units computed, {summary.skipped} reused, "
            f"{summary.seconds:.0f}s; results in {cfg.run_dir}"
        )
        console.print(summary.throughput())
    except HANDLED as error:
        fail(error)


def _prepare_run_dir(cfg: ExperimentConfig, force: bool) -> None:
    """What ``run`` and ``audit`` do before their work: adopt a foreign folder on ``--force``
    (it is refused otherwise), and say where each task's data will come from."""
    if force:
        from sociallearn.experiment.store import adopt

        adopt(cfg.run_dir)
    _note_data_sources(cfg)


def _note_data_sources(cfg: ExperimentConfig) -> None:
    """Say when a data folder the user named lacks a task's data and it comes from elsewhere."""
    if cfg.data_dir is None or cfg.data_file is not None:
        return
    from sociallearn.tasks import get_task
    from sociallearn.tasks.datasets import BUILTIN_DATA
    from sociallearn.tasks.registry import resolve_source

    for name in cfg.tasks:
        spec = BUILTIN_DATA.get(get_task(name).name)
        if spec is None:
            continue  # a YAML task names its own data file
        source = resolve_source(get_task(name), spec, data_dir=cfg.data_dir)
        where = source.describe()
        if not where.startswith("local"):
            console.print(
                f"note: {cfg.data_dir} has no {name} data ({spec.local_paths()}); "
                f"using {where} instead",
                highlight=False,
            )


def _print_results(rows: list[dict[str, Any]]) -> None:
    from sociallearn.experiment.tables import results_table

    console.print(results_table(rows))


def _write_report(
    run_dir: Path,
    permutations: int = 10_000,
    compare_paper: bool = False,
    test: Literal["paired", "pooled"] = "paired",
) -> None:
    from sociallearn.report import build_report

    paths = build_report(run_dir, n_resamples=permutations, compare_paper=compare_paper, test=test)
    console.print(f"report: {paths.html} and {paths.markdown}")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    permutations: Annotated[
        int, typer.Option("--permutations", help="permutations per significance test")
    ] = 10_000,
    compare_paper: Annotated[
        bool,
        typer.Option(
            "--compare-paper",
            help="put the paper's reported numbers beside ours and add a Findings section",
        ),
    ] = False,
    test: Annotated[
        str,
        typer.Option(
            "--test",
            help="paired (default: within (item, seed) pairs) or pooled (the paper's test)",
        ),
    ] = "paired",
) -> None:
    """Write report.html and report.md for a run directory."""
    try:
        if not (run_dir / "results.jsonl").exists() and not (run_dir / "privacy.jsonl").exists():
            raise UserError(f"{run_dir}: no results.jsonl here (expected a run directory)")
        if test not in ("paired", "pooled"):
            raise UserError(f"--test {test}: expected 'paired' or 'pooled'")
        kind: Literal["paired", "pooled"] = "pooled" if test == "pooled" else "paired"
        _write_report(run_dir, permutations, compare_paper, kind)
    except HANDLED as error:
        fail(error)


@app.command()
def audit(
    config: AuditConfigArg = None,
    model: ModelOpt = None,
    task: TaskOpt = None,
    runs: Annotated[int | None, typer.Option("--runs", help="T_SS: independent runs")] = None,
    references: Annotated[
        int | None, typer.Option("--references", help="N_SS: canary + references")
    ] = None,
    out: OutOpt = None,
    data_dir: DataDirOpt = None,
    method: Annotated[
        list[str] | None,
        typer.Option("--method", help="methods to audit (repeatable; default: the config's)"),
    ] = None,
    template: Annotated[
        list[str] | None,
        typer.Option("--template", help="canary templates, e.g. gsm8k-code (repeatable)"),
    ] = None,
    model_option: ModelOptionOpt = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="K/N: run the K-th of N shares (N processes, one --out); --workers is simpler",
        ),
    ] = None,
    executor: ExecutorOpt = None,
    workers: WorkersOpt = None,
    address: AddressOpt = None,
    num_cpus: NumCpusOpt = None,
    memory: MemoryOpt = None,
    num_gpus: NumGpusOpt = None,
    force: ForceOpt = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="list the runs per cell, their cost and wall time"),
    ] = False,
) -> None:
    """Plant canaries in the teachers' silos, teach, and measure what the student memorised."""
    try:
        from sociallearn.experiment.audit import parse_shard, run_audit
        from sociallearn.experiment.config import load_config

        overrides = _overrides(model=model, tasks=task, out=out, data_dir=data_dir)
        overrides |= {
            f"audit.{field}": value
            for field, value in _overrides(
                runs=runs, n_references=references, methods=method, templates=template
            ).items()
        }
        cfg = load_config(config or Path(__file__).parent / "presets" / "audit.yaml", overrides)
        cfg = _model_options(cfg, model_option)
        runner = _executor(cfg, executor, workers, address, num_cpus, memory, num_gpus)
        if dry_run:
            from sociallearn.experiment.audit_plan import print_audit_plan

            print_audit_plan(cfg, console)
            return
        _prepare_run_dir(cfg, force)
        run_audit(cfg, console, parse_shard(shard) if shard else (1, 1), executor=runner)
        _write_report(cfg.run_dir)
    except HANDLED as error:
        fail(error)


@app.command()
def recover(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    data_dir: DataDirOpt = None,
) -> None:
    """Rebuild a run directory's results.sqlite from its exports or a carry.

    The old file is kept; a carry's labels come back from the run's data (--data-dir)."""
    try:
        from sociallearn.experiment.recover import rebuild_from_exports

        count, kept = rebuild_from_exports(run_dir, data_dir)
        old = f"; the old store is kept as {kept}" if kept else ""
        console.print(f"rebuilt {run_dir / 'results.sqlite'} with {count} units{old}")
    except HANDLED as error:
        fail(error)


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    fmt: Annotated[
        str, typer.Option("--format", help="text, json, lm-eval, inspect, parquet or carry")
    ] = "text",
    unit: Annotated[
        str | None,
        typer.Option("--unit", help="one unit key, e.g. sms_spam/zero_shot/n=0/-/seed=0"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="output folder (default: RUN_DIR/export/FORMAT)")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write each unit's learned prompt, exactly as evaluated, or the results, for other tools."""
    try:
        from sociallearn.export import export_run

        for path in export_run(run_dir, fmt, unit=unit, out_dir=out, data_dir=data_dir):
            console.print(str(path), highlight=False, soft_wrap=True)
    except HANDLED as error:
        fail(error)


@app.command()
def tasks() -> None:
    """List the built-in tasks: format, labels and where their data come from."""
    try:
        from rich.table import Table

        from sociallearn.tasks import describe_tasks

        table = Table(title="tasks", show_lines=True)
        for col in ("name", "format", "labels", "parser", "data"):
            table.add_column(col)
        for info in describe_tasks():
            table.add_row(
                info.name, info.format, ", ".join(info.labels) or "-", info.parser, info.source
            )
        console.print(table)
    except HANDLED as error:
        fail(error)


@app.command(name="list")
def list_components() -> None:
    """List the registered methods, aggregators and model providers."""
    from sociallearn.models.registry import providers
    from sociallearn.teaching.aggregators import aggregators
    from sociallearn.teaching.components import describe
    from sociallearn.teaching.methods import methods

    console.print("methods (name(arguments=defaults) [capabilities]):")
    for name in methods.names():
        console.print("  " + describe(methods.get(name), name))
    console.print("aggregators:")
    for name in aggregators.names():
        console.print("  " + describe(aggregators.get(name), name))
    console.print("models:      " + ", ".join(providers.names()))


def main() -> None:
    import faulthandler
    import signal

    # A crash inside native code (llama.cpp dying of SIGILL on a CPU that advertises what it
    # cannot run, a segfault in an extension) otherwise ends the run without a word; this
    # prints the signal and the Python stack that led into the native call.
    faulthandler.enable()
    # The driver only: worker processes start elsewhere and keep the default (they end with it).
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        app()
    except KeyboardInterrupt as error:
        sys.exit(interrupted(error))


if __name__ == "__main__":
    main()
