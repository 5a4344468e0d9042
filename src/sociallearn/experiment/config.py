"""One typed configuration for an experiment grid, read from YAML; CLI flags override fields."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from sociallearn.errors import ConfigError
from sociallearn.teaching.components import ComponentSpec, parse_spec


def _spec_out(spec: ComponentSpec) -> str | dict[str, Any]:
    """As written in a config: the name, or ``{name: ..., <args>}``."""
    return spec.name if not spec.args else {"name": spec.name, **spec.args}


def _spec_in(value: object) -> ComponentSpec:
    try:
        return parse_spec(value, "component")
    except ConfigError as err:
        raise ValueError(str(err).removeprefix("component: ")) from None


# A method or aggregator in a config: a name or a mapping ``{name: ..., <args>}``.
Component = Annotated[
    ComponentSpec,
    BeforeValidator(_spec_in),
    PlainSerializer(_spec_out),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SynthesisConfig(_Strict):
    """How teachers write synthetic examples (SPEC §3.2 leaves these open; they are recorded)."""

    n_gen: int = Field(4, ge=1, description="private examples in each generation prompt")
    temperature: float = Field(0.8, ge=0.0, description="sampling temperature τ")
    samples: int = Field(4, ge=1, description="continuations sampled per teacher per round")
    top_k: int = Field(
        2, ge=1, description="continuations kept per request, lowest perplexity first"
    )
    max_tokens: int = Field(96, ge=8, description="token budget of one continuation")
    constrained: bool = Field(
        True, description="constrain generation with a grammar derived from the task's format"
    )
    attempts: int = Field(3, ge=1, description="sampling rounds when everything is rejected")
    teachers_per_round: int | None = Field(
        None, ge=1, description="teachers asked per round (None: all)"
    )


class GateConfig(_Strict):
    """The leakage gate applied inside teachers before a candidate may be shared."""

    enabled: bool = True
    min_distance: float = Field(0.25, ge=0.0, le=1.0, description="reject below this distance")
    max_ngram: int = Field(8, ge=2, description="reject a shared word n-gram of this length")


class AuditConfig(_Strict):
    """The canary experiment (SPEC §5)."""

    templates: list[str] = Field(
        default_factory=list, description="canary template names (empty: all of the task's)"
    )
    n_references: int = Field(1000, ge=2, description="N_SS: canary plus references")
    runs: int = Field(10, ge=1, description="T_SS: independent runs")
    copies: int = Field(1, ge=1, description="copies of the canary planted in each silo")
    force_in_prompt: bool = Field(
        False, description="always show the canary when generating (stress test)"
    )
    methods: list[Component] = Field(
        default_factory=lambda: [
            ComponentSpec(name="synthetic_examples"),
            ComponentSpec(name="original_examples"),
        ]
    )
    n: int = Field(8, ge=1, description="examples taught in each audit run")
    canary_silos: Literal["all", "one"] = Field(
        "all",
        description="plant each canary in every silo (the paper) or in one teacher's silo (to "
        "compare the empirical ε bound with a teacher-level accounted ε)",
    )


# Options that change speed or logging, never results (requests in flight to a server included).
_RESULT_NEUTRAL_OPTIONS = ("n_threads", "verbose", "max_connections", "concurrency")


class ExperimentConfig(_Strict):
    """A grid of tasks × methods × n × aggregators × seeds, and how to run it."""

    name: str = "experiment"
    tasks: list[str] = Field(default_factory=lambda: ["sms_spam"])
    methods: list[Component] = Field(
        default_factory=lambda: [
            ComponentSpec(name=name)
            for name in (
                "zero_shot",
                "original_examples",
                "synthetic_examples",
                "synthetic_instruction",
            )
        ],
        description="teaching methods: names or {name: ..., <args>}",
    )
    n: list[int] = Field(default_factory=lambda: [8], description="examples taught (n-shot)")
    aggregators: list[Component] = Field(
        default_factory=lambda: [ComponentSpec(name="random"), ComponentSpec(name="voting")],
        description="aggregators: names or {name: ..., <args>}",
    )
    aggregation: Literal["student", "trusted"] = Field(
        "student",
        description="who chooses among the teachers' candidates: the student (the paper; it "
        "receives every candidate) or a trusted aggregator (only its picks reach the student)",
    )
    seeds: list[int] = Field(default_factory=lambda: [0])
    model: str = Field("llamacpp:smollm2", description="model spec used by every role")
    teacher_model: str | None = Field(None, description="teachers' model spec (default: model)")
    student_model: str | None = Field(None, description="student's model spec (default: model)")
    model_options: dict[str, Any] = Field(
        default_factory=dict, description="options of every role's model (e.g. n_ctx, weights)"
    )
    teacher_model_options: dict[str, Any] = Field(
        default_factory=dict, description="teachers' model options, merged over model_options"
    )
    student_model_options: dict[str, Any] = Field(
        default_factory=dict, description="student's model options, merged over model_options"
    )
    teachers: int = Field(8, ge=1, description="number of teachers m")
    silo_split: Literal["iid", "dirichlet"] = "iid"
    dirichlet_alpha: float = Field(0.5, gt=0)
    silo_size: int | None = Field(None, ge=1, description="cap on each teacher's silo")
    heldout: int = Field(8, ge=0, description="per-teacher held-out examples used only for voting")
    synthesis: SynthesisConfig = Field(default_factory=lambda: SynthesisConfig())
    instruction_examples: int = Field(8, ge=1)
    gate: GateConfig = Field(default_factory=lambda: GateConfig())
    audit: AuditConfig = Field(default_factory=lambda: AuditConfig())
    answer_mode: Literal["generate", "score"] = "generate"
    calibrate: bool = Field(
        False, description="score mode: contextual calibration with a content-free input"
    )
    limit: int | None = Field(None, ge=1, description="test items evaluated per unit")
    test_size: int | None = Field(None, ge=1, description="test set size (task default if unset)")
    data_dir: Path | None = None
    data_file: Path | None = None
    data_seed: int = Field(0, description="seed of the pool/test split (fixed across run seeds)")
    out: Path | None = Field(None, description="run directory (default: runs/<name>)")
    cache: bool = Field(True, description="cache model responses in the run directory")

    @field_validator("n")
    @classmethod
    def _n_non_negative(cls, value: list[int]) -> list[int]:
        if any(v < 0 for v in value):
            raise ValueError("every n must be >= 0")
        return value

    @field_validator("seeds", "tasks")
    @classmethod
    def _not_empty(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("expected at least one value (an empty list runs nothing)")
        return value

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        # The name is a folder under runs/: "../x" or "a/b" would write elsewhere.
        if value in ("", ".", "..") or any(c in value for c in "/\\\0"):
            raise ValueError(f"expected a plain name (a folder under runs/), got {value!r}")
        return value

    @model_validator(mode="after")
    def _heldout_fits(self) -> ExperimentConfig:
        if self.silo_size is not None and self.heldout >= self.silo_size:
            raise ValueError(
                f"heldout ({self.heldout}) must be smaller than silo_size ({self.silo_size}): "
                "held-out examples come out of each teacher's silo"
            )
        return self

    @property
    def run_dir(self) -> Path:
        return self.out if self.out is not None else Path("runs") / self.name

    def teacher_spec(self) -> str:
        return self.teacher_model or self.model

    def student_spec(self) -> str:
        return self.student_model or self.model

    def teacher_options(self) -> dict[str, Any]:
        return {**self.model_options, **self.teacher_model_options}

    def student_options(self) -> dict[str, Any]:
        return {**self.model_options, **self.student_model_options}

    def fingerprint(self) -> str:
        """Hash of :meth:`fingerprint_data`: the settings that change a unit's result."""
        data = self.fingerprint_data()
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def path_fingerprint(self) -> str:
        """The fingerprint as run directories made before paths were left out hold it (with the
        data folder, data file and model paths as written); they keep being accepted by it."""
        data = self.fingerprint_data(paths=True)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def fingerprint_data(self, *, paths: bool = False) -> dict[str, Any]:
        """The settings that change a unit's result, as hashed by :meth:`fingerprint`.

        Where results are written, and the grid axes (which units exist: tasks, methods, n,
        aggregators, seeds, audit runs), are left out: a unit's result depends only on these
        settings and its own key, so a grid can be extended in place (more seeds, more audit
        runs) while a changed setting (model, limit, temperature, ...) is refused. Model
        options that only change speed or logging (``n_threads``, ``verbose``) are left out too.
        So are where the inputs lie (unless ``paths``): the data folder and file, and a model
        file's or directory's folder (its name stays). The inputs themselves are bound by
        their content (:mod:`sociallearn.experiment.bindings`), so a directory resumes on
        another machine where the same data and model lie elsewhere, and refuses other ones.
        """
        data = self.model_dump(
            mode="json",
            exclude={"out", "cache", "name", "tasks", "methods", "n", "aggregators", "seeds"},
        )
        if not paths:
            # Hashed as unset (their default), so directories that never set them keep their
            # fingerprint.
            data["data_dir"] = data["data_file"] = None
            for role in ("model", "teacher_model", "student_model"):
                if data[role]:
                    data[role] = portable_spec(data[role])
        for axis in ("runs", "methods", "templates"):
            data["audit"].pop(axis, None)
        # Options that change speed or logging, not results: llama.cpp gives bit-identical
        # scores and samples for 1 and 2 threads (tested), so a run may resume on more cores.
        for field in ("model_options", "teacher_model_options", "student_model_options"):
            for option in _RESULT_NEUTRAL_OPTIONS:
                data[field].pop(option, None)
            if "base_url" in data[field]:
                # Several endpoints of one model: their order does not change results. (One URL
                # stays as written, so earlier run directories keep their fingerprint.)
                from sociallearn.models.endpoint_pool import parse_base_urls

                endpoints = parse_base_urls(data[field]["base_url"])
                if len(endpoints) > 1:
                    data[field]["base_url"] = list(endpoints)
        # Fields added after the first release are hashed only when set, so run directories
        # made before they existed keep their fingerprint.
        for field in ("teacher_model_options", "student_model_options"):
            if not data[field]:
                del data[field]
        if data["aggregation"] == "student":
            del data["aggregation"]
        if data["audit"].get("canary_silos") == "all":
            del data["audit"]["canary_silos"]
        # A server named only by OPENAI_BASE_URL is part of what produced the results too.
        urls = sorted(
            {
                str(os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
                for spec, options in (
                    (self.teacher_spec(), self.teacher_options()),
                    (self.student_spec(), self.student_options()),
                )
                if spec.partition(":")[0].strip() == "openai" and not options.get("base_url")
            }
        )
        if urls:
            data["openai_base_url"] = urls
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def portable_spec(spec: str) -> str:
    """``spec`` with a local model's folder left out: ``llamacpp:/a/m.gguf`` -> ``llamacpp:m.gguf``
    (the model id names it so too); ``hf:`` likewise for a ``.gguf`` file or a path written as
    one (starting ``/``, ``~`` or ``.``). A hub id, an alias and a server's model are kept."""
    from sociallearn.models.embedded import EMBEDDED_ALIASES

    provider, _, name = (part.strip() for part in spec.partition(":"))
    local = (provider == "llamacpp" and name.lower() not in EMBEDDED_ALIASES) or (
        provider == "hf" and (name.lower().endswith(".gguf") or name.startswith(("/", "~", ".")))
    )
    return f"{provider}:{Path(name).name}" if local and Path(name).name else spec


# Command-line flags that set a config field (an error in their value names the flag).
_FLAGS = {
    "tasks": "--task",
    "methods": "--method",
    "aggregators": "--aggregator",
    "seeds": "--seed/--seeds",
    "audit.runs": "--runs",
    "audit.n_references": "--references",
    "audit.methods": "--method",
    "audit.templates": "--template",
}


def _flag(key: str) -> str:
    return _FLAGS.get(key, "--" + key.rpartition(".")[2].replace("_", "-"))


def _format_validation_error(
    err: ValidationError, source: str, overridden: frozenset[str] = frozenset()
) -> str:
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"]]
    where = ".".join(loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        # A typo inside a section lists that section's fields, not the top level's.
        cls: type[BaseModel] = ExperimentConfig
        for part in loc[:-1]:
            field = cls.model_fields.get(part)
            annotation = field.annotation if field is not None else None
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                break
            cls = annotation
        known = ", ".join(cls.model_fields)
        return f"{source}: unknown field {where!r} (known fields: {known})"
    for key in (".".join(loc[:2]), loc[0] if loc else ""):
        if key in overridden:
            return f"{_flag(key)}: {first['msg']} (field {where!r})"
    return f"{source}: field {where!r}: {first['msg']}"


def _relative_to(path: Path, value: Any) -> Any:
    """A relative path from a config file, made relative to the file's folder."""
    if value and not Path(str(value)).expanduser().is_absolute():
        return str((path.parent / str(value)).resolve())
    return value


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Read a YAML config (or the defaults), apply overrides, validate; one-line errors.

    An override key ``"section.field"`` sets one field of a nested section.
    """
    data: dict[str, Any] = {}
    source = str(path) if path else "defaults"
    if path is not None:
        if not path.exists():
            raise ConfigError(f"config file not found: {path} (expected a YAML experiment config)")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of config fields at the top level")
        data.update(loaded)
        if "name" not in data:
            data["name"] = path.stem
        # Relative paths in a config are relative to the config file (not to where the command
        # runs), so configs travel with their data: data_file, data_dir, out, and task YAMLs.
        for key in ("data_file", "data_dir", "out"):
            if isinstance(data.get(key), str):
                data[key] = _relative_to(path, data[key])
        if isinstance(data.get("tasks"), list):
            data["tasks"] = [
                _relative_to(path, t) if isinstance(t, str) and _is_task_path(t) else t
                for t in data["tasks"]
            ]
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        # "section.field" sets one field of a nested section (e.g. audit.runs from --runs).
        section, dot, field = key.partition(".")
        if dot and isinstance(data.get(section, {}), dict):
            data[section] = {**data.get(section, {}), field: value}
        else:
            data[key] = value
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as err:
        overridden = frozenset(k for k, v in (overrides or {}).items() if v is not None)
        raise ConfigError(_format_validation_error(err, source, overridden)) from None
    from sociallearn.experiment.units import check_components

    try:
        check_components(config)
    except ConfigError as err:
        # "audit.methods[0]: ..." set by a flag names the flag, not the (preset) file.
        field = str(err).split(":", 1)[0].split("[", 1)[0]
        if field in {k for k, v in (overrides or {}).items() if v is not None}:
            raise ConfigError(f"{_flag(field)}: {err}") from None
        raise ConfigError(f"{source}: {err}") from None
    return config


def _is_task_path(spec: str) -> bool:
    """A task given as a YAML file (a path), not as a registered task's name."""
    return spec.lower().endswith((".yaml", ".yml"))
