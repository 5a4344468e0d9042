"""A transformers backend (optional extra ``sociallearn[hf]``): a local causal LM or a hub id.

Scores come from the logits of one forward pass over context + continuation; generation samples
token by token with a per-sample ``torch.Generator`` so each sample is reproducible. It favours
being small and correct over speed: use ``llamacpp`` or a vLLM server for large runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from sociallearn.errors import UserError
from sociallearn.models.base import (
    Completion,
    GenerationParams,
    Score,
    ScoreRequest,
    derive_seed,
    sample_indices,
)

_INSTALL_HINT = (
    "the hf backend needs transformers and torch: pip install 'sociallearn[hf]' "
    "(or pip install transformers torch)"
)


def _import_hf() -> tuple[Any, Any]:
    try:
        # import_module keeps type checkers from requiring torch's stubs for an optional extra.
        torch = importlib.import_module("torch")
        transformers = importlib.import_module("transformers")
    except ImportError as exc:
        raise UserError(_INSTALL_HINT) from exc
    return torch, transformers


class HFModel:
    """A causal LM run by transformers on CPU (or ``device="cuda"``).

    Args:
        name: a local model directory or a hub id (hub access needs network).
        device: torch device string.
        dtype: torch dtype name, e.g. ``"float32"`` or ``"bfloat16"``.
    """

    def __init__(self, name: str, *, device: str = "cpu", dtype: str = "float32") -> None:
        if not name:
            raise UserError("--model hf:<model id or path>: the model name is missing")
        self._torch, transformers = _import_hf()
        try:
            self._tok = transformers.AutoTokenizer.from_pretrained(name)
            self._model = transformers.AutoModelForCausalLM.from_pretrained(
                name, torch_dtype=getattr(self._torch, dtype)
            ).to(device)
        except (OSError, ValueError) as exc:
            raise UserError(f"--model hf:{name}: cannot load the model ({exc})") from exc
        self._model.eval()
        self._device = device
        self._name = name

    @property
    def model_id(self) -> str:
        return f"hf:{self._name}"

    def _ids(self, text: str) -> list[int]:
        return list(self._tok(text, add_special_tokens=True)["input_ids"])

    def _log_softmax(self, ids: list[int]) -> Any:
        torch = self._torch
        with torch.no_grad():
            tensor = torch.tensor([ids], device=self._device)
            logits = self._model(tensor).logits[0].float()
        return torch.log_softmax(logits, dim=-1)

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        out: list[Score] = []
        for req in requests:
            ctx = self._ids(req.context)
            if not ctx and self._tok.bos_token_id is not None:
                ctx = [int(self._tok.bos_token_id)]
            if not ctx:
                raise UserError("score: empty context and the tokenizer has no BOS token")
            joint = self._ids(req.context + req.continuation)
            if joint[: len(ctx)] == ctx:
                cont = joint[len(ctx) :]
            else:  # the tokenizer merged across the boundary
                cont = list(self._tok(req.continuation, add_special_tokens=False)["input_ids"])
            if not cont:
                out.append(Score(logprob_sum=0.0, n_tokens=0))
                continue
            logp = self._log_softmax(ctx + cont[:-1])
            # Row i predicts token i + 1.
            lps = tuple(float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(cont))
            out.append(Score(logprob_sum=sum(lps), n_tokens=len(lps), token_logprobs=lps))
        return out

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Completion]:
        """Sample per prompt. ``logprob_sum`` is under the model's temperature-1 distribution.

        GBNF grammars are not supported here and are ignored (``constrained=False``).
        """
        out: list[Completion] = []
        for prompt, index in zip(prompts, sample_indices(prompts), strict=True):
            out.append(self._generate_one(prompt, params, derive_seed(params.seed, index)))
        return out

    def _generate_one(self, prompt: str, params: GenerationParams, seed: int) -> Completion:
        torch = self._torch
        gen = torch.Generator(device=self._device).manual_seed(seed)
        ids = self._ids(prompt) or [int(self._tok.bos_token_id or 0)]
        new: list[int] = []
        lps: list[float] = []
        finish = "length"
        text = ""
        past = None
        feed = ids
        with torch.no_grad():
            while len(new) < params.max_tokens:
                result = self._model(
                    torch.tensor([feed], device=self._device), past_key_values=past, use_cache=True
                )
                past = result.past_key_values
                logits = result.logits[0, -1].float()
                logp = torch.log_softmax(logits, dim=-1)
                token = self._pick(logits, params, gen)
                if token == self._tok.eos_token_id:
                    finish = "stop"
                    break
                new.append(token)
                lps.append(float(logp[token]))
                text = self._tok.decode(new, skip_special_tokens=True)
                cuts = [c for s in params.stop if (c := text.find(s)) >= 0]
                if cuts:
                    text = text[: min(cuts)]
                    finish = "stop"
                    break
                feed = [token]
        return Completion(text=text, n_tokens=len(new), logprob_sum=sum(lps), finish_reason=finish)

    def _pick(self, logits: Any, params: GenerationParams, gen: Any) -> int:
        torch = self._torch
        if params.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / params.temperature, dim=-1)
        if params.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < params.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=gen))
