"""Rollouts with vLLM's offline ``LLM``: the engine for GPU runs, in the trainer's own process.

NOT RUN HERE: written and unit-tested against a fake ``vllm`` module (tests/rollout/fake_vllm.py) on a machine
without a GPU; the first GPU run must check it (see "Unverified" below). vllm is imported lazily, so this
module imports anywhere.

The vLLM API it relies on, as read in the vllm 0.32.0 wheel (the pin of requirements-gpu.txt; V1 engine):

- ``vllm.LLM(model, dtype, seed, tensor_parallel_size, gpu_memory_utilization, max_model_len, max_num_seqs,
  max_num_batched_tokens, enable_prefix_caching, enforce_eager, enable_sleep_mode, generation_config,
  worker_extension_cls, distributed_executor_backend, trust_remote_code)``: entrypoints/llm.py ``LLM.__init__``
  passes every keyword on to the ``EngineArgs`` dataclass (engine/arg_utils.py), which refuses unknown names.
  Config-valued arguments are converted only from a plain ``dict`` (``_make_config``): ``llm_kwargs`` are
  turned into plain dicts and lists here. ``generation_config="vllm"`` keeps the model's
  generation_config.json from setting defaults; every sampling field below is explicit besides.
  ``gpu_memory_utilization`` is a share of the whole GPU that must be free when the engine starts
  (v1/worker/utils.py ``request_memory``): weights, activations, CUDA graphs and KV cache all come out of it.
- ``LLM.generate(prompts, sampling_params, use_tqdm=...)`` with ``{"prompt_token_ids": [...]}`` prompts and one
  ``SamplingParams`` per prompt returns the ``RequestOutput``s "in the same order as the input prompts"
  (its docstring). ``RequestOutput.outputs`` are ``CompletionOutput``s (outputs.py) with ``index``,
  ``token_ids``, ``text``, ``finish_reason`` and ``stop_reason``.
- ``vllm.SamplingParams`` (sampling_params.py, ``__post_init__`` / ``_verify_args``): ``temperature`` in
  [0, 2], below 1e-5 greedy (then ``n`` must be 1), in (0, 0.01) raised to 0.01; ``top_k=0`` is off. With
  ``seed`` set, sample i of an ``n > 1`` request gets ``seed + i`` (v1/engine/parallel_sampling.py
  ``ParentRequest.get_child_sampling_params``), and model runner V2 (the default where Triton is) stores each
  seed in an int64 array (v1/worker/gpu/sample/states.py ``add_request``): every seed + i must stay below 2**63.
- ``token_ids`` keep the EOS / stop token that ended a response (v1/core/sched/utils.py ``check_stop`` appends
  before checking; v1/engine/detokenizer.py re-appends the token it skips detokenizing). A stop string ends the
  response at the token that completes it. ``text`` is not used: with ``include_stop_str_in_output`` vLLM cuts
  it right after the stop string (the token may hold more) and may include the EOS text, so the text is
  decoded here from ``token_ids`` exactly as ``HFEngine`` does.
- Weight updates: ``LLM.collective_rpc(method, args=...)`` returns one result per worker (a list of one in
  this process: v1/executor/uniproc_executor.py) from a method of ``worker_extension_cls``, a class vLLM
  adds to its worker's bases after asserting that none of its names clashes (v1/worker/worker_base.py). It
  calls ``model.load_weights(weights)`` on ``model_runner.get_model()``: for Qwen2 and Llama
  (model_executor/models/qwen2.py, llama.py) that is ``AutoWeightsLoader.load_weights``
  (model_executor/models/utils.py), which takes HF names, stacks q/k/v_proj into ``qkv_proj`` and
  gate/up_proj into ``gate_up_proj`` (``hf_to_vllm_mapper``), raises ``ValueError`` on a name the model lacks,
  and returns the set of vLLM parameter names it loaded. After a push every name of the model's
  ``named_parameters()`` must have been loaded. The engine core stays in this process
  (``VLLM_ENABLE_V1_MULTIPROCESSING=0``), so the tensors are handed over by reference, not serialised.
- ``LLM.reset_prefix_cache() -> bool`` follows every update (cached KV blocks were computed by the old
  weights); False means blocks are still in use (v1/core/block_pool.py ``reset_prefix_cache``).
- Under torchrun, ``distributed_executor_backend="external_launcher"`` gives every rank its own engine on
  ``cuda:LOCAL_RANK`` inside the existing process group (vLLM's torchrun examples; TRL colocate mode).
- Sleep mode (``enable_sleep_mode=True``; entrypoints/llm.py ``sleep`` / ``wake_up``, v1/engine/core.py
  ``EngineCore.sleep`` / ``wake_up``, v1/worker/gpu_worker.py): ``sleep(level)`` pauses the scheduler, resets
  the prefix cache itself (raising if it cannot) and frees the memory; level 1 backs the weights up to
  pinned CPU memory, level 2 discards them (the worker keeps the model's buffers, e.g. rotary tables, and
  restores them on wake). ``wake_up(tags)`` with tags among ``"weights"``, ``"kv_cache"`` returns whether the
  engine is fully awake; the scheduler resumes only then. Level 2 is the default here: every weight is
  pushed after each update anyway, so copying the stale ones back (level 1) is wasted time and host memory.

Unverified without a GPU: that vllm 0.32.0 runs with every constructor argument above; that
external_launcher with ``tensor_parallel_size=1`` runs with a world of 8 DeepSpeed ranks; that
``load_weights`` reaches the model the sampler uses (CUDA graphs on) and that ``named_parameters()`` holds
no parameter a push cannot load; sleep/wake memory figures (conf/engine/vllm.yaml) and their timing;
throughput.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from rlvr.rollout.base import Completion, RolloutEngine, SamplingParams

GPU_REQUIREMENTS = "engine=vllm needs the GPU requirements: pip install -r requirements-gpu.txt"
_SEED_LIMIT = 2**63  # vLLM keeps seeds in int64: every seed it derives (seed + sample index) must stay below
_SHOWN_NAMES = 8  # missing parameter names listed in an error


def _import_vllm():
    try:
        import vllm
    except ImportError as err:
        raise ImportError(f"{GPU_REQUIREMENTS} ({err})") from err
    return vllm


class WorkerExtension:
    """Methods vLLM mixes into its GPU worker (``worker_extension_cls``), called through ``collective_rpc``.

    A push is ``rlvr_begin_weights``, ``rlvr_load_weights`` per tensor, then ``rlvr_end_weights``, which names
    the model's parameters that no call loaded. The names compared are vLLM's own on both sides: what
    ``model.load_weights`` reports (``qkv_proj`` for q/k/v_proj, ``gate_up_proj`` for gate/up_proj) and
    ``model.named_parameters()``. (A stacked parameter counts as loaded once any of its parts is.)
    """

    def rlvr_begin_weights(self) -> None:
        self._rlvr_loaded: set[str] = set()

    def rlvr_load_weights(self, weights: list[tuple[str, torch.Tensor]]) -> None:
        model = _worker_model(self)
        loaded = model.load_weights(weights=weights)  # HF names in; vLLM stacks q/k/v, gate/up itself
        if loaded is None:
            raise RuntimeError(
                f"{type(model).__name__}.load_weights does not report the parameters it loads, so a weight "
                "push cannot be checked to cover them all"
            )
        self._rlvr_loaded.update(loaded)

    def rlvr_end_weights(self) -> list[str]:
        parameters = {name for name, _ in _worker_model(self).named_parameters()}
        return sorted(parameters - self._rlvr_loaded)

    def rlvr_parameter_sums(self) -> dict[str, float]:
        """Each parameter's sum, vLLM's names: what ``benchmarks.gpu_check`` compares with the policy's."""
        return {name: param.float().sum().item() for name, param in _worker_model(self).named_parameters()}


def _worker_model(worker) -> torch.nn.Module:
    runner = worker.model_runner
    return runner.get_model() if hasattr(runner, "get_model") else runner.model


class VLLMEngine(RolloutEngine):
    """``params.n`` samples per prompt from vLLM, with ``HFEngine``'s conventions.

    Every sampling knob is explicit (top_k off, min_p 0, no repetition penalty): the model's
    ``generation_config.json`` must not change the paper's sampling distribution. The EOS ids are the model's
    generation-config ones (as ``HFEngine``'s) plus the tokenizer's, which vLLM always stops on.
    """

    def __init__(
        self,
        llm,
        tokenizer,
        *,
        eos_ids: Iterable[int],
        sleep_enabled: bool = False,
        sleep_level: int = 2,
    ) -> None:
        if sleep_level not in (1, 2):
            raise ValueError(f"sleep_level must be 1 or 2, got {sleep_level}")
        self.llm = llm
        self.tokenizer = tokenizer
        self.eos_ids = set(eos_ids)
        if tokenizer.eos_token_id is not None:
            self.eos_ids.add(tokenizer.eos_token_id)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos_ids)
        self.max_model_len: int | None = llm.llm_engine.model_config.max_model_len
        self.sleep_enabled, self.sleep_level = sleep_enabled, sleep_level
        self._asleep: set[str] = set()  # the tags ("weights", "kv_cache") whose memory vLLM has released
        self._weights_lost = False  # after a level-2 sleep or a failed push: only a whole push brings them back

    @classmethod
    def from_pretrained(
        cls,
        model_path: str,
        tokenizer,
        *,
        dtype: str = "auto",
        trust_remote_code: bool = False,
        device: str | None = None,
        gpu_memory_utilization: float = 0.6,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        max_num_seqs: int | None = None,
        max_num_batched_tokens: int | None = None,
        enable_prefix_caching: bool = True,
        enforce_eager: bool = False,
        enable_sleep_mode: bool = True,
        sleep_level: int = 2,
        seed: int = 0,
        distributed_executor_backend: str | None = "auto",
        llm_kwargs: Mapping[str, Any] | None = None,
    ) -> "VLLMEngine":
        """The engine config's entry point (``rlvr.rollout.build_engine``). Build it before the DeepSpeed
        policy: vLLM sizes its share (``gpu_memory_utilization`` of the whole GPU) against free memory."""
        backend = _executor_backend(distributed_executor_backend, tensor_parallel_size)
        _check_device(device, backend)
        # load_weights hands the trainer's tensors over by reference: the engine core must live in this process.
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        vllm = _import_vllm()
        kwargs = dict(
            model=model_path,
            dtype=dtype,
            trust_remote_code=trust_remote_code,
            seed=seed,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            enable_prefix_caching=enable_prefix_caching,
            enforce_eager=enforce_eager,
            enable_sleep_mode=enable_sleep_mode,
            generation_config="vllm",
            worker_extension_cls=f"{__name__}.{WorkerExtension.__qualname__}",
        )
        optional = dict(
            max_model_len=max_model_len,
            max_num_seqs=max_num_seqs,
            max_num_batched_tokens=max_num_batched_tokens,
            distributed_executor_backend=backend,
        )
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        kwargs.update(_plain(llm_kwargs or {}))  # vLLM converts only plain dicts into its config objects
        llm = vllm.LLM(**kwargs)
        return cls(
            llm,
            tokenizer,
            eos_ids=_generation_eos_ids(model_path, tokenizer, trust_remote_code),
            sleep_enabled=enable_sleep_mode,
            sleep_level=sleep_level,
        )

    # ------------------------------------------------------------------ the RolloutEngine interface
    def generate(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[list[Completion]]:
        prompts = [list(p) for p in prompts]
        if not prompts:
            return []
        self._check_lengths(prompts, params)
        if self._weights_lost:
            raise RuntimeError(
                "the engine holds no complete weights (a level-2 sleep discarded them, or the last push "
                "failed): call load_weights before generate"
            )
        self.wake_up()
        requests = self._requests(prompts, params)
        outputs = self.llm.generate(
            [{"prompt_token_ids": prompt} for prompt, _, _ in requests],
            [self._sampling_params(params, n, seed) for _, n, seed in requests],
            use_tqdm=_is_main_process(),  # one progress bar per run, not one per rank
        )
        if len(outputs) != len(requests):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(requests)} requests")
        flat: list[Completion] = []
        for (prompt, n, _), out in zip(requests, outputs):
            # The rows of a group must follow their prompt: check vLLM's "same order as the input prompts".
            if list(out.prompt_token_ids) != prompt or len(out.outputs) != n:
                raise RuntimeError("vLLM returned its outputs out of request order (or with a wrong sample count)")
            flat.extend(self._completion(sample) for sample in sorted(out.outputs, key=lambda s: s.index))
        n = params.n
        return [flat[p * n : (p + 1) * n] for p in range(len(prompts))]

    @torch.no_grad()
    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Push every parameter of the policy; raises if any of vLLM's parameters was left out."""
        self.wake_up(("weights",))  # the KV cache stays asleep while the weights are copied in
        self._weights_lost = True  # until the whole push is in
        self.llm.collective_rpc("rlvr_begin_weights")
        for name, tensor in weights:
            # One call per tensor: the trainer's ZeRO-3 gather frees each tensor once the next is yielded.
            self.llm.collective_rpc("rlvr_load_weights", args=([(name, tensor)],))
        missing = sorted({name for worker in self.llm.collective_rpc("rlvr_end_weights") for name in worker})
        if missing:
            shown = ", ".join(missing[:_SHOWN_NAMES]) + (", ..." if len(missing) > _SHOWN_NAMES else "")
            raise RuntimeError(
                f"the weight push left {len(missing)} of vLLM's parameters unloaded ({shown}); push every "
                "parameter of the policy (vLLM's names: q/k/v_proj are stacked in qkv_proj, gate/up_proj in "
                "gate_up_proj)"
            )
        if not self.llm.reset_prefix_cache():  # cached KV blocks were computed by the old weights
            raise RuntimeError(
                "vLLM could not reset its prefix cache after the weight update (KV blocks still in use): "
                "cached prompts would be served from the old weights"
            )
        self._weights_lost = False

    # ------------------------------------------------------------------ memory sharing with the trainer
    def sleep(self) -> None:
        """Release vLLM's GPU memory while the policy updates (no-op unless ``enable_sleep_mode``)."""
        if not self.sleep_enabled or self._asleep:
            return
        self.llm.sleep(level=self.sleep_level)  # resets the prefix cache itself (EngineCore.sleep)
        self._asleep = {"weights", "kv_cache"}
        self._weights_lost = self._weights_lost or self.sleep_level == 2

    def wake_up(self, tags: Sequence[str] | None = None) -> None:
        """Take the released memory back, all of it or only ``tags``; ``load_weights`` and ``generate`` call
        it themselves (weights first, so the KV cache is not yet back while weights are copied in)."""
        todo = sorted(self._asleep if tags is None else self._asleep & set(tags))
        if not todo:
            return
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()  # hand the trainer's cached, unused blocks back first, for vLLM to take
        fully_awake = self.llm.wake_up(tags=todo)
        self._asleep -= set(todo)
        if not self._asleep and not fully_awake:
            raise RuntimeError(f"vLLM's wake_up(tags={todo}) left the engine asleep: it would not schedule requests")

    # ------------------------------------------------------------------ helpers
    def _requests(self, prompts: list[list[int]], params: SamplingParams) -> list[tuple[list[int], int, int | None]]:
        """(prompt, n, seed) per vLLM request, in row order. Greedy: vLLM allows n == 1 only, so each copy is
        its own request. Sampled: prompt p's seed is offset by p * n, so that with vLLM's seed + i per sample
        row r of the call gets seed + r: no two rows share a seed (one seed for all prompts would reuse the
        same random draws). The seed is first reduced so that the last row's stays below 2**63."""
        if params.temperature == 0:
            return [(prompt, 1, None) for prompt in prompts for _ in range(params.n)]
        if params.seed is None:
            return [(prompt, params.n, None) for prompt in prompts]
        base = params.seed % (_SEED_LIMIT - len(prompts) * params.n)  # unchanged below 2**63 - rows
        return [(prompt, params.n, base + p * params.n) for p, prompt in enumerate(prompts)]

    def _sampling_params(self, params: SamplingParams, n: int, seed: int | None):
        vllm = _import_vllm()
        sample = params.temperature > 0
        return vllm.SamplingParams(
            n=n,
            temperature=params.temperature,
            top_p=params.top_p if sample else 1.0,
            top_k=0,  # off
            min_p=0.0,
            repetition_penalty=1.0,
            presence_penalty=0.0,
            frequency_penalty=0.0,
            max_tokens=params.max_new_tokens,
            seed=seed,
            stop=list(params.stop),
            stop_token_ids=sorted(self.eos_ids),
            include_stop_str_in_output=True,
            skip_special_tokens=False,  # stop strings are matched on the same text HFEngine decodes
        )

    def _completion(self, sample) -> Completion:
        reason = sample.finish_reason
        if reason not in ("stop", "length"):
            raise RuntimeError(
                f"vLLM ended a response with finish_reason={reason!r} (stop_reason={sample.stop_reason!r}); "
                "only 'stop' and 'length' are expected"
            )
        tokens = tuple(sample.token_ids)
        if reason == "stop" and tokens and tokens[-1] in self.eos_ids:
            return Completion(tokens, self._decode(tokens[:-1]), "stop")
        return Completion(tokens, self._decode(tokens), reason)

    def _decode(self, tokens: Sequence[int]) -> str:
        return self.tokenizer.decode(list(tokens), skip_special_tokens=False)

    def _check_lengths(self, prompts: list[list[int]], params: SamplingParams) -> None:
        # vLLM would end such responses at max_model_len with finish_reason "length", short of max_new_tokens.
        longest = max(len(p) for p in prompts)
        if self.max_model_len is not None and longest + params.max_new_tokens > self.max_model_len:
            raise ValueError(
                f"a {longest}-token prompt plus max_new_tokens={params.max_new_tokens} exceeds the engine's "
                f"max_model_len={self.max_model_len}; raise engine.max_model_len (if the model allows) "
                "or lower the response length"
            )


def _plain(value: Any) -> Any:
    """``value`` with every mapping turned into a dict and every other sequence (not text) into a list, as
    vLLM's constructor wants them (an OmegaConf node is neither a dict nor a list)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(item) for item in value]
    return value


def _is_main_process() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _executor_backend(choice: str | None, tensor_parallel_size: int) -> str | None:
    """``auto``: external_launcher inside a torch.distributed world (one engine per rank on cuda:LOCAL_RANK,
    as the trainer runs), vLLM's own default otherwise (``python -m rlvr.label``)."""
    import torch.distributed as dist

    in_world = dist.is_available() and dist.is_initialized()
    if in_world and dist.get_world_size() > 1 and tensor_parallel_size != 1:
        raise ValueError(
            "engine.tensor_parallel_size must be 1 under torchrun: every rank samples its own prompts "
            f"with its own engine, got {tensor_parallel_size}"
        )
    if choice != "auto":
        return choice
    return "external_launcher" if in_world else None


def _check_device(device: str | None, backend: str | None) -> None:
    if device is None:
        return
    dev = torch.device(device)
    if dev.type != "cuda":
        raise ValueError(f"engine=vllm runs on CUDA GPUs, got device={device!r}; use engine=hf on a CPU")
    # vLLM picks the GPU itself: cuda:LOCAL_RANK under external_launcher, the first visible one otherwise.
    expected = int(os.environ.get("LOCAL_RANK", "0")) if backend == "external_launcher" else 0
    if dev.index is not None and dev.index != expected:
        raise ValueError(
            f"vLLM will run on cuda:{expected}, not on the requested {device!r}; select the GPU with "
            "CUDA_VISIBLE_DEVICES (or LOCAL_RANK under torchrun)"
        )


def _generation_eos_ids(model_path: str, tokenizer, trust_remote_code: bool) -> set[int]:
    """The ids ``HFEngine`` stops on: ``model.generation_config.eos_token_id`` (generation_config.json, else
    config.json, as transformers derives it), else the tokenizer's. Local directories are read directly."""
    local = Path(model_path)
    if local.is_dir():
        eos = None
        for name in ("generation_config.json", "config.json"):
            if (local / name).exists():
                eos = json.loads((local / name).read_text()).get("eos_token_id")
                break
    else:  # a hub name
        from transformers import AutoConfig, GenerationConfig

        try:
            eos = GenerationConfig.from_pretrained(model_path).eos_token_id
        except OSError:
            config = AutoConfig.from_pretrained(model_path, trust_remote_code=trust_remote_code)
            eos = getattr(config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    return set(eos if isinstance(eos, list) else [eos])
