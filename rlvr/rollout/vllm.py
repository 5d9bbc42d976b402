"""Rollouts with vLLM's offline ``LLM``: the engine for GPU runs, in the trainer's own process.

NOT RUN HERE: written and unit-tested against a fake ``vllm`` module (tests/rollout/test_vllm_engine.py) on a
machine without a GPU; the first GPU run must check it (see "Unverified" below). vllm is imported lazily, so
this module imports anywhere.

The vLLM API it relies on (pinned line: vllm 0.32, V1 engine), and where it was read:

- ``vllm.LLM(model, dtype, seed, tensor_parallel_size, gpu_memory_utilization, max_model_len, max_num_seqs,
  max_num_batched_tokens, enable_prefix_caching, enforce_eager, enable_sleep_mode, generation_config,
  worker_extension_cls, distributed_executor_backend, trust_remote_code)``: vllm/entrypoints/llm.py (the
  constructor forwards the rest to ``EngineArgs``). ``generation_config="vllm"`` keeps the model's
  generation_config.json from setting defaults; every sampling field below is explicit besides.
- ``LLM.generate(prompts, sampling_params, use_tqdm=...)`` with ``{"prompt_token_ids": [...]}`` prompts (the
  ``TokensPrompt`` TypedDict) and one ``SamplingParams`` per prompt; it "returns the RequestOutputs in the same
  order as the input prompts" (its docstring). Each ``RequestOutput`` has ``prompt_token_ids`` and
  ``outputs: list[CompletionOutput]`` with ``index``, ``token_ids``, ``text``, ``finish_reason``
  (``"stop"``, ``"length"``, ``"abort"``; None while unfinished) and ``stop_reason``.
- ``vllm.SamplingParams`` (vllm/sampling_params.py): ``top_k=0`` means off; ``temperature=0`` is greedy and then
  ``n`` must be 1; with ``seed`` set, sample i of an ``n > 1`` request gets ``seed + i`` (V1 ``ParentRequest``).
- ``token_ids`` keep the EOS / stop token that ended a response (vllm/v1/core/sched/utils.py ``check_stop``
  appends before checking; vllm/v1/engine/detokenizer.py re-appends the token it skips detokenizing).
  A stop string ends the response at the token that completes it. ``text`` is not used: with
  ``include_stop_str_in_output`` vLLM cuts it right after the stop string (the token may hold more) and may
  include the EOS text, so the text is decoded here from ``token_ids`` exactly as ``HFEngine`` does.
- Weight updates: ``LLM.collective_rpc(method_name, args=...)`` calling a method of ``worker_extension_cls``
  (the pattern of vLLM's examples/offline_inference/rlhf*.py and rlhf_utils.py), which runs
  ``model.load_weights([(name, tensor)])`` on the worker's model (``model_runner.get_model()``), the same call
  TRL's colocate mode (trl/generation/vllm_generation.py) and verl make. The engine core is kept in this process
  (``VLLM_ENABLE_V1_MULTIPROCESSING=0``), so the tensors are handed over by reference, not serialised. (vLLM
  0.2x+ also has a ``WeightTransferConfig`` API with NCCL / CUDA-IPC backends; it is for trainers living in
  other processes, which ours does not.) ``LLM.reset_prefix_cache()`` follows every update: cached KV blocks
  were computed by the old weights.
- Under torchrun, ``distributed_executor_backend="external_launcher"`` gives every rank its own engine on
  ``cuda:LOCAL_RANK`` inside the existing process group (vLLM's torchrun examples; TRL colocate mode).
- ``LLM.sleep(level)`` / ``LLM.wake_up(tags=["weights" | "kv_cache"])`` with ``enable_sleep_mode=True``
  (docs.vllm.ai features/sleep_mode): level 1 offloads the weights to CPU and drops the KV cache; level 2 drops
  both. ``sleep()`` / ``wake_up()`` here let the trainer free that memory around the policy update.

Unverified without a GPU: that vllm 0.32 accepts every constructor argument above; that external_launcher with
``tensor_parallel_size=1`` runs with a world of 8 DeepSpeed ranks; that ``load_weights`` reaches the model
the sampler uses (CUDA graphs on); sleep/wake memory figures; throughput.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Sequence

import torch

from rlvr.rollout.base import Completion, RolloutEngine, SamplingParams

GPU_REQUIREMENTS = "engine=vllm needs the GPU requirements: pip install -r requirements-gpu.txt"
_SEED_MOD = 2**63  # vLLM seeds a torch.Generator per seeded request; keep the seed in int64


def _import_vllm():
    try:
        import vllm
    except ImportError as err:
        raise ImportError(f"{GPU_REQUIREMENTS} ({err})") from err
    return vllm


class WorkerExtension:
    """Methods vLLM mixes into its GPU worker (``worker_extension_cls``), called through ``collective_rpc``."""

    def rlvr_load_weights(self, weights: list[tuple[str, torch.Tensor]]) -> None:
        runner = self.model_runner
        model = runner.get_model() if hasattr(runner, "get_model") else runner.model
        model.load_weights(weights=weights)  # HF names in; vLLM stacks q/k/v, gate/up itself


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
        sleep_level: int = 1,
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
        self._weights_lost = False  # sleep level 2 discards the weights; only load_weights brings them back

    @classmethod
    def from_pretrained(
        cls,
        model_path: str,
        tokenizer,
        *,
        dtype: str = "auto",
        trust_remote_code: bool = False,
        device: str | None = None,
        gpu_memory_utilization: float = 0.4,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        max_num_seqs: int | None = None,
        max_num_batched_tokens: int | None = None,
        enable_prefix_caching: bool = True,
        enforce_eager: bool = False,
        enable_sleep_mode: bool = False,
        sleep_level: int = 1,
        seed: int = 0,
        distributed_executor_backend: str | None = "auto",
        llm_kwargs: dict | None = None,
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
        kwargs.update(dict(llm_kwargs or {}))
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
            raise RuntimeError("sleep level 2 discarded the engine's weights: call load_weights before generate")
        self.wake_up()
        requests = self._requests(prompts, params)
        outputs = self.llm.generate(
            [{"prompt_token_ids": prompt} for prompt, _, _ in requests],
            [self._sampling_params(params, n, seed) for _, n, seed in requests],
            use_tqdm=True,
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
        self.wake_up(("weights",))
        for name, tensor in weights:
            # One call per tensor: the trainer's ZeRO-3 gather frees each tensor once the next is yielded.
            self.llm.collective_rpc("rlvr_load_weights", args=([(name, tensor)],))
        self._weights_lost = False
        self.llm.reset_prefix_cache()  # cached KV blocks were computed by the old weights

    # ------------------------------------------------------------------ memory sharing with the trainer
    def sleep(self) -> None:
        """Release vLLM's GPU memory while the policy updates (no-op unless ``enable_sleep_mode``)."""
        if not self.sleep_enabled or self._asleep:
            return
        self.llm.reset_prefix_cache()  # the KV cache is dropped: no cached prefix may survive it
        self.llm.sleep(level=self.sleep_level)
        self._asleep = {"weights", "kv_cache"}
        self._weights_lost = self.sleep_level == 2

    def wake_up(self, tags: Sequence[str] | None = None) -> None:
        """Take the released memory back, all of it or only ``tags``; ``load_weights`` and ``generate`` call
        it themselves (weights first, so the KV cache is not yet back while weights are copied in)."""
        todo = sorted(self._asleep if tags is None else self._asleep & set(tags))
        if todo:
            self.llm.wake_up(tags=todo)
            self._asleep -= set(todo)

    # ------------------------------------------------------------------ helpers
    def _requests(self, prompts: list[list[int]], params: SamplingParams) -> list[tuple[list[int], int, int | None]]:
        """(prompt, n, seed) per vLLM request, in row order. Greedy: vLLM allows n == 1 only, so each copy is
        its own request. Sampled: prompt p's seed is offset by p * n, so that with vLLM's seed + i per sample
        no two rows of a call share a seed (one seed for all prompts would reuse the same random draws)."""
        if params.temperature == 0:
            return [(prompt, 1, None) for prompt in prompts for _ in range(params.n)]
        return [
            (prompt, params.n, None if params.seed is None else (params.seed + p * params.n) % _SEED_MOD)
            for p, prompt in enumerate(prompts)
        ]

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
