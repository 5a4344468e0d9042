"""A transformers backend (optional extra ``sociallearn[hf]``): a local causal LM or a hub id.

Specs: ``hf:<directory or hub id>``; ``hf:<path>.gguf`` or ``hf:smollm2`` (the embedded GGUF),
which transformers dequantises to float weights (needs the ``gguf`` package). Everything loads
from local files when given a path; a hub id in the local hub cache loads that snapshot (its
``main``) without asking the hub, so what was hashed is what runs; an uncached hub id needs network.

Scores come from the logits of a forward pass over context + continuation; generation samples
token by token with a per-sample ``torch.Generator`` so each sample is reproducible. Like the
llama.cpp backend, the model keeps the key/value cache of the last token sequence it read and
only runs the tokens after the longest common prefix, so a shared learned prompt is read once.
It favours being small and correct over speed: use ``llamacpp`` or a vLLM server for large runs.
GBNF grammars are not supported (completions report ``constrained=False``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sociallearn.errors import UserError
from sociallearn.models.base import (
    Completion,
    GenerationParams,
    Score,
    ScoreRequest,
    TokenDistribution,
    common_prefix,
    derive_seed,
    sample_indices,
)
from sociallearn.models.file_digest import file_digest, model_digest

_INSTALL_HINT = (
    "the hf backend needs transformers and torch: pip install 'sociallearn[hf]' "
    "(on a CPU-only machine install torch's CPU build first)"
)
_GGUF_HINT = "loading a .gguf file with transformers needs the gguf package: pip install gguf"


def _import_hf() -> tuple[Any, Any]:
    try:
        # import_module keeps type checkers from requiring torch's stubs for an optional extra.
        torch = importlib.import_module("torch")
        transformers = importlib.import_module("transformers")
    except ImportError as exc:
        raise UserError(_INSTALL_HINT) from exc
    return torch, transformers


def resolve_gguf(name: str) -> Path | None:
    """The GGUF file a spec name means (``smollm2`` or a ``.gguf`` path), else ``None``."""
    from sociallearn.models.embedded import EMBEDDED_ALIASES, find_embedded_gguf

    if name.lower() in EMBEDDED_ALIASES:
        return find_embedded_gguf()
    if name.lower().endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise UserError(f"--model hf:{name}: model file not found (expected a .gguf file)")
        return path
    return None


def resolve_local_model(name: str) -> Path | None:
    """The local file or directory a spec name loads: its GGUF, its directory, or a hub id's
    snapshot in the local hub cache; ``None`` for a hub id that is not cached."""
    if (gguf := resolve_gguf(name)) is not None:
        return gguf
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if importlib.util.find_spec("huggingface_hub") is None:
        return None
    from huggingface_hub import snapshot_download

    try:  # never touches the network: only the cache's refs/main and its snapshot
        return Path(snapshot_download(name, local_files_only=True))
    except (OSError, ValueError):  # not cached, or not a hub id at all
        return None


def converted_directory(gguf: Path, *, into: Path | None = None) -> Path:
    """``gguf`` as a Hugging Face model directory (float32 safetensors and tokenizer), made once.

    transformers reads a GGUF file slowly (about a minute for SmolLM2-135M on a busy 2-core
    machine, mostly parsing metadata in Python), while the saved directory loads in seconds; a
    vLLM server also needs this format. Named after the file's bytes (like
    :func:`~sociallearn.models.gguf_weights.reencoded_gguf`), written under a temporary name and
    renamed into place, so an interrupted conversion leaves nothing half-made.
    """
    import shutil
    import sys
    import tempfile

    from sociallearn.models.gguf_weights import CACHE_ENV, cache_dir

    tag = file_digest(gguf)
    folder = into or cache_dir() / "models"
    target = folder / f"{gguf.stem}.hf.{tag[:12]}"
    if (target / "config.json").is_file():
        return target
    torch, transformers = _import_hf()
    if importlib.util.find_spec("gguf") is None:
        raise UserError(_GGUF_HINT)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder, suffix=".part"))
        tmp.chmod(0o755)  # mkdtemp makes it private; the directory is a shared cache
    except OSError as exc:
        raise UserError(f"hf: cannot write to {folder} ({exc}); set {CACHE_ENV}") from exc
    print(f"converting {gguf.name} to a transformers directory, once: {target}", file=sys.stderr)
    try:
        source = {"gguf_file": gguf.name, "local_files_only": True}
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), **source)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), dtype=torch.float32, **source
        )
        # transformers 5 marks a GGUF-loaded model as "quantized" although its weights are
        # already dequantised floats, and then refuses to save it; drop the marker.
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer = None
        if getattr(model.config, "quantization_config", None) is not None:
            del model.config.quantization_config
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "config.json").is_file():  # not made by a concurrent process
                raise
    except (OSError, ValueError, KeyError) as exc:
        message = " ".join(str(exc).split())[:300]
        raise UserError(f"hf: cannot convert {gguf} ({message})") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class HFModel:
    """A causal LM run by transformers on CPU (or ``device="cuda"``).

    Args:
        name: a local model directory, a ``.gguf`` file, ``smollm2`` (the embedded GGUF) or a
            hub id (hub access needs network).
        device: torch device string.
        dtype: torch dtype name, e.g. ``"float32"`` or ``"bfloat16"``; part of the model id
            when not float32.
        n_threads: torch intra-op threads (process-wide); ``None`` leaves torch's setting.
        prefix_reuse: keep the key/value cache of shared prefixes (off only to measure).
    """

    def __init__(
        self,
        name: str,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        n_threads: int | None = None,
        prefix_reuse: bool = True,
    ) -> None:
        if not name:
            raise UserError("--model hf:<model id or path>: the model name is missing")
        local = resolve_local_model(name)  # a missing file is reported before the slow imports
        gguf = local if local is not None and local.is_file() else None
        # The weights' bytes key the response cache (see CachedModel.cache_id); an uncached hub
        # id is fetched by transformers and has none.
        self.content_digest = model_digest(local) if local is not None else None
        self._torch, transformers = _import_hf()
        torch_dtype = getattr(self._torch, dtype, None)
        if not isinstance(torch_dtype, self._torch.dtype):
            raise UserError(f"option dtype: expected a torch dtype such as float32, got {dtype!r}")
        try:
            parsed = self._torch.device(device)
        except (RuntimeError, TypeError):
            raise UserError(
                f"option device: expected a torch device such as cpu or cuda, got {device!r}"
            ) from None
        if parsed.type == "cuda" and not self._torch.cuda.is_available():
            raise UserError(
                f"option device: {device!r}, but torch {self._torch.__version__} sees no CUDA "
                "device (a CPU-only build, or no driver); use device=cpu"
            )
        if n_threads is not None:
            self._torch.set_num_threads(max(1, int(n_threads)))
        if gguf is not None:
            source = str(converted_directory(gguf))
        else:
            source = str(local) if local is not None else name
        extra: dict[str, Any] = {}
        if local is not None:
            extra["local_files_only"] = True  # a local model never needs the hub
        try:
            self._tok = transformers.AutoTokenizer.from_pretrained(source, **extra)
            self._model = transformers.AutoModelForCausalLM.from_pretrained(
                source, dtype=torch_dtype, **extra
            ).to(parsed)
        except (OSError, ValueError, KeyError) as exc:
            message = " ".join(str(exc).split())[:300]
            raise UserError(f"--model hf:{name}: cannot load the model ({message})") from exc
        self._model.eval()
        # transformers 5 renamed the key/value cache argument and output to ``cache``.
        forward = inspect.signature(self._model.forward).parameters
        self._cache_arg = "cache" if "cache" in forward else "past_key_values"
        self._device = parsed  # its type ("cpu", "cuda", ...) is part of the model id
        self._name = name
        self._dtype = dtype
        self.prefix_reuse = prefix_reuse
        self._kv: list[int] = []  # tokens whose keys/values ``self._cache`` holds
        self._cache: Any = None
        self.decoded_tokens = 0  # tokens run through the model (for tests and benchmarks)
        self._lock = threading.RLock()  # one key/value cache: calls must not interleave
        self._vocab: tuple[str, ...] | None = None  # token texts, for next-token distributions

    @property
    def model_id(self) -> str:
        # What changes results is part of the id, so caches never mix them: the dtype, and the
        # device type, since torch's CPU and CUDA generators draw different samples from one
        # seed (scores agree within 4e-5 nats: benchmarks/bench_hf_device.py, docs/backends.md).
        suffix = f"@dtype={self._dtype}" if self._dtype != "float32" else ""
        suffix += f"@device={self._device.type}" if self._device.type != "cpu" else ""
        return f"hf:{self._name}{suffix}"

    @property
    def n_ctx(self) -> int:
        """Longest token sequence the model was trained for (its position embeddings)."""
        return int(getattr(self._model.config, "max_position_embeddings", 0) or 2**31 - 1)

    def count_tokens(self, text: str) -> int:
        return len(self._ids(text))

    # ----------------------------------------------------------------- tokens and KV state

    def _ids(self, text: str, *, first: bool = True) -> list[int]:
        # add_special_tokens adds BOS only where the tokenizer is configured to (as llama.cpp).
        return list(self._tok(text, add_special_tokens=first)["input_ids"])

    def _start(self, text: str, what: str) -> list[int]:
        ids = self._ids(text)
        if not ids:
            # An empty text has no position to predict the first token from; start from BOS.
            if self._tok.bos_token_id is None:
                raise UserError(f"{what}: the text is empty and the tokenizer has no BOS token")
            ids = [int(self._tok.bos_token_id)]
        return ids

    def _eval(self, tokens: Sequence[int], logits_from: int) -> Any:
        """Log-softmax rows (float32) for positions ``logits_from .. len(tokens) - 1``.

        Row ``i`` is the distribution of the token after ``tokens[logits_from + i]``. Only the
        tokens after the longest prefix shared with the cached sequence are run.
        """
        torch = self._torch
        if len(tokens) > self.n_ctx:
            raise UserError(
                f"context overflow: {len(tokens)} tokens > the model's {self.n_ctx} positions "
                f"(hf:{self._name}); shorten the prompt or lower n"
            )
        keep = common_prefix(self._kv, tokens) if self.prefix_reuse else 0
        keep = min(keep, logits_from)
        cache = self._cache if keep else None
        if cache is not None and keep < len(self._kv):
            # A negative length drops that many tokens (the only form transformers 5 accepts).
            cache.crop(keep - len(self._kv))
        # The cache is updated in place: until the pass succeeds, what it holds is unknown.
        self._kv, self._cache = [], None
        with torch.no_grad():
            result = self._model(
                torch.tensor([list(tokens[keep:])], device=self._device),
                use_cache=True,
                **{self._cache_arg: cache},
            )
        self._cache = getattr(result, self._cache_arg)
        self._kv = list(tokens)
        self.decoded_tokens += len(tokens) - keep
        logits = result.logits[0, logits_from - keep :].float()
        return torch.log_softmax(logits, dim=-1)

    # ----------------------------------------------------------------------------- scoring

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Log-probs of each continuation given its context (same token split as llamacpp)."""
        results: dict[ScoreRequest, Score] = {}
        with self._lock:
            # Sorted by text so that requests sharing a context (or a prefix) are neighbours.
            for req in sorted(dict.fromkeys(requests), key=lambda r: (r.context, r.continuation)):
                results[req] = self._score_one(req)
        return [results[req] for req in requests]

    def _score_one(self, req: ScoreRequest) -> Score:
        ctx = self._start(req.context, "score context")
        if not req.continuation:
            return Score(logprob_sum=0.0, n_tokens=0)
        joint = self._ids(req.context + req.continuation)
        if req.context and joint[: len(ctx)] == ctx and len(joint) > len(ctx):
            cont = joint[len(ctx) :]
        else:  # the tokenizer merged across the boundary: score the continuation on its own
            cont = self._ids(req.continuation, first=False)
        if not cont:
            return Score(logprob_sum=0.0, n_tokens=0)
        logp = self._eval(ctx + cont[:-1], logits_from=len(ctx) - 1)
        lps = tuple(float(logp[j, t]) for j, t in enumerate(cont))
        return Score(logprob_sum=sum(lps), n_tokens=len(lps), token_logprobs=lps)

    # ----------------------------------------------------------------- next-token distributions

    def next_token_logprobs(
        self, prompts: Sequence[str], top: int | None = None
    ) -> list[TokenDistribution]:
        """The whole vocabulary's log-probs after each prompt (or the ``top`` likeliest).

        Token texts are each id decoded alone without special tokens, as the llama.cpp backend
        gives them: control tokens are ``""`` and partial UTF-8 bytes U+FFFD. Prompts take turns
        in one key/value cache, so prompts that differ early (private generation's teachers)
        are each evaluated in full; the llama.cpp backend keeps one slot per prompt instead.
        """
        if top is not None and top < 1:
            raise UserError(f"top: expected an integer >= 1 or None, got {top}")
        out: dict[int, TokenDistribution] = {}
        with self._lock:
            vocab = self._vocabulary()
            for i in sorted(range(len(prompts)), key=lambda j: prompts[j]):
                ids = self._start(prompts[i], "next-token prompt")
                row = self._eval(ids, logits_from=len(ids) - 1)[-1].double()
                lps = (row - self._torch.logsumexp(row, dim=-1)).cpu().numpy()
                out[i] = TokenDistribution.from_vocabulary(vocab, lps, top)
        return [out[i] for i in range(len(prompts))]

    def _vocabulary(self) -> tuple[str, ...]:
        """Every id's text (made once; ids past the tokenizer's, padding rows, are ``""``)."""
        if self._vocab is None:
            size = int(self._model.get_output_embeddings().weight.shape[0])
            known = len(self._tok)
            self._vocab = tuple(
                self._tok.decode([i], skip_special_tokens=True) if i < known else ""
                for i in range(size)
            )
        return self._vocab

    # -------------------------------------------------------------------------- generation

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Completion]:
        """Sample per prompt. ``logprob_sum`` is under the model's temperature-1 distribution.

        GBNF grammars are not supported here and are ignored (``constrained=False``).
        """
        if params.max_tokens < 0:
            raise UserError(f"max_tokens: expected an integer >= 0, got {params.max_tokens}")
        out: list[Completion] = []
        with self._lock:
            for prompt, index in zip(prompts, sample_indices(prompts), strict=True):
                out.append(self._generate_one(prompt, params, derive_seed(params.seed, index)))
        return out

    def _generate_one(self, prompt: str, params: GenerationParams, seed: int) -> Completion:
        gen = self._torch.Generator(device=self._device).manual_seed(seed)
        ids = self._start(prompt, "generate prompt")
        new: list[int] = []
        lps: list[float] = []
        starts: list[int] = []  # character offset where each generated token's text begins
        finish = "length"
        text = ""
        while len(new) < params.max_tokens:
            logp = self._eval(ids + new, logits_from=len(ids) + len(new) - 1)[-1]
            token = self._pick(logp, params, gen)
            if token == self._tok.eos_token_id:
                finish = "stop"
                break
            new.append(token)
            lps.append(float(logp[token]))
            starts.append(len(text))
            text = self._tok.decode(new, skip_special_tokens=True)
            cut = min((c for s in params.stop if (c := text.find(s)) >= 0), default=-1)
            if cut >= 0:
                # Keep the tokens that contribute at least one character before the stop.
                kept = sum(1 for s in starts if s < cut)
                text, new, lps = text[:cut], new[:kept], lps[:kept]
                finish = "stop"
                break
        return Completion(text=text, n_tokens=len(new), logprob_sum=sum(lps), finish_reason=finish)

    def _pick(self, logp: Any, params: GenerationParams, gen: Any) -> int:
        torch = self._torch
        if params.temperature <= 0:
            return int(torch.argmax(logp))
        probs = torch.softmax(logp / params.temperature, dim=-1)
        if params.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < params.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=gen))
