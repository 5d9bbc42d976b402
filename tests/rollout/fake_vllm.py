"""A fake ``vllm`` module for the vLLM engine's tests (vLLM needs a GPU; none here).

It imitates, and refuses what refuses, the parts of vllm 0.32.0's V1 engine that ``rlvr.rollout.vllm`` touches,
as read in the vllm 0.32.0 wheel:

- ``LLM(**kwargs)``: entrypoints/llm.py hands every keyword to the ``EngineArgs`` dataclass
  (engine/arg_utils.py): an unknown name is a TypeError. Config values are converted only from a plain
  ``dict`` (``_make_config``), so a mapping or sequence that is not a dict / list / tuple is refused here.
  ``worker_extension_cls`` is added to the worker's bases after a name-clash check (v1/worker/worker_base.py);
  ``collective_rpc`` calls the worker method in-process and returns ``[result]`` (uniproc_executor.py).
- ``sleep(level)`` / ``wake_up(tags)`` -> whether fully awake / ``reset_prefix_cache()`` -> bool, as
  v1/engine/core.py: a level-2 sleep discards the weights (here: filled with NaN), level 1 keeps them;
  ``generate`` refuses while any tag sleeps (the real scheduler stays paused: requests would hang).
- The model is a tiny Qwen2 with vLLM's parameter names (``qkv_proj``, ``gate_up_proj``). ``load_weights`` takes
  HF names, stacks q/k/v and gate/up into their shards (``Qwen2Model.hf_to_vllm_mapper``), raises ValueError
  on an unknown name and AssertionError on a shape mismatch (``AutoWeightsLoader``, the weight loaders of
  model_executor/layers/linear.py), and returns the set of vLLM names it loaded.
- ``SamplingParams`` takes only real field names and checks as sampling_params.py does: temperature in [0, 2]
  (below 0.01 raised to 0.01), greedy only with ``n == 1``. Sample i of a request gets ``seed + i``
  (v1/engine/parallel_sampling.py), stored in int64 (v1/worker/gpu/sample/states.py): past 2**63 it overflows.
- ``generate`` returns one ``RequestOutput``-like object per request (``prompt_token_ids``, ``outputs``) with
  ``CompletionOutput``-like samples (``index``, ``token_ids``, ``text``, ``finish_reason``, ``stop_reason``).
  Stopping follows ``check_stop`` (EOS, then ``stop_token_ids``, then ``max_tokens``; the stopping token stays
  in ``token_ids``) and the detokenizer's stop strings (the response ends at the token completing one;
  ``text`` is cut right after it). Its ``text`` keeps the EOS text, as vLLM's does with
  include_stop_str_in_output and special tokens kept.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Mapping, Sequence
from types import SimpleNamespace

import torch

# The fields of EngineArgs in vllm 0.32.0 (engine/arg_utils.py), plus LLM.__init__'s own chat_template.
ENGINE_ARGS = frozenset("""
model enable_return_routed_experts return_sampling_mask model_weights served_model_name tokenizer hf_config_path
runner convert skip_tokenizer_init enable_prompt_embeds tokenizer_mode trust_remote_code allowed_local_media_path
allowed_media_domains download_dir safetensors_load_strategy safetensors_prefetch_num_threads
safetensors_prefetch_block_size load_format config_format dtype kv_cache_dtype seed max_model_len
cudagraph_capture_sizes max_cudagraph_capture_size ir_op_priority distributed_executor_backend
pipeline_parallel_size master_addr master_port nnodes node_rank distributed_timeout_seconds
cpu_distributed_timeout_seconds numa_bind numa_bind_nodes numa_bind_cpus device_ids tensor_parallel_size
prefill_context_parallel_size decode_context_parallel_size dcp_comm_backend dcp_q_replicate
dcp_kv_cache_interleave_size cp_kv_cache_interleave_size data_parallel_size data_parallel_rank
data_parallel_start_rank data_parallel_size_local data_parallel_address data_parallel_rpc_port
data_parallel_hybrid_lb data_parallel_external_lb data_parallel_multi_port_external_lb data_parallel_backend
enable_hc_sp enable_expert_parallel enable_batch_sharded_sampling enable_ep_weight_filter moe_backend
linear_backend sparse_indexer_topk_backend all2all_backend enable_elastic_ep elastic_ep_max_dp_size enable_dbo
ubatch_size dbo_decode_token_threshold dp_sync_interval dbo_prefill_token_threshold
disable_nccl_for_dp_synchronization eplb_config enable_eplb expert_placement_strategy _api_process_count
_api_process_rank max_parallel_loading_workers block_size enable_prefix_caching prefix_caching_hash_algo
prefix_cache_retention_interval disable_sliding_window disable_cascade_attn offload_backend cpu_offload_gb
cpu_offload_params offload_group_size offload_num_in_group offload_prefetch_step offload_params
gpu_memory_utilization kv_cache_memory_bytes max_num_batched_tokens max_num_scheduled_tokens
long_prefill_token_threshold long_prefill_token_threshold_adaptive max_num_seqs max_num_active_seqs
max_num_queued_reqs max_num_queued_tokens max_logprobs logprobs_mode use_fp64_gumbel enable_trace_replay
disable_log_stats aggregate_engine_logging revision code_revision hf_token hf_overrides model_class_overrides
tokenizer_revision quantization quantization_config allow_deprecated_quantization enforce_eager
disable_custom_all_reduce enable_shm_tensor_arena language_model_only limit_mm_per_prompt enable_mm_embeds
interleave_mm_strings media_io_kwargs mm_processor_kwargs mm_processor_cache_gb mm_processor_cache_type
mm_hasher_algorithm mm_shm_cache_max_object_size_mb mm_encoder_only mm_encoder_tp_mode mm_encoder_attn_backend
mm_encoder_attn_dtype mm_encoder_fp8_scale_path mm_encoder_fp8_scale_save_path mm_encoder_fp8_scale_save_margin
io_processor_plugin renderer_num_workers skip_mm_profiling video_pruning_rate video_pruning_method mm_tensor_ipc
mm_processor_device mm_ipc_gpu_memory_gb mm_device_do_normalize enable_lora max_loras max_lora_rank
default_mm_loras fully_sharded_loras max_cpu_loras lora_dtype lora_target_modules enable_tower_connector_lora
specialize_active_lora enable_mixed_moe_lora_format enable_moe_shared_loras max_lora_cls_labels
ray_workers_use_nsight num_gpu_blocks_override model_loader_extra_config ignore_patterns enable_chunked_prefill
disable_chunked_mm_input scheduler_reserve_full_isl prefill_schedule_interval watermark
disable_hybrid_kv_cache_manager structured_outputs_config aux_output_config reasoning_parser
reasoning_parser_plugin speculative_config spec_method spec_model spec_tokens watermark_config diffusion_config
show_hidden_metrics_for_version otlp_traces_endpoint collect_detailed_traces per_request_spec_decode_metrics
kv_cache_metrics kv_cache_metrics_sample custom_histogram_buckets cudagraph_metrics enable_layerwise_nvtx_tracing
enable_mfu_metrics enable_logging_iteration_details jit_monitor_mode jit_monitor_verbose enable_mm_processor_stats
scheduling_policy scheduler_cls pooler_config compilation_config attention_config engram_config mamba_config
kernel_config enable_flashinfer_autotune worker_cls worker_extension_cls profiler_config logging_config log_level
log_config_file kv_transfer_config kv_events_config ec_transfer_config ec_manager_config reasoning_config
generation_config enable_sleep_mode sleep_mode_offload_cudagraph sleep_preserve_parameter_names
enable_cumem_allocator enable_nccl_comm_suspend override_generation_config model_impl attention_backend
kv_cache_dtype_skip_layers mamba_cache_dtype mamba_ssm_cache_dtype mamba_block_size prefix_match_unit
mamba_cache_mode enable_mamba_shared_prefix_checkpoint replayssm_buffer_len use_replayssm mamba_backend
mamba_ssu_algorithm enable_mamba_cache_stochastic_rounding mamba_cache_philox_rounds additional_config
use_tqdm_on_load pt_load_map_location logits_processors async_scheduling stream_interval kv_sharing_fast_prefill
swa_bounded_replay optimization_level performance_mode fault_tolerance_config enable_fault_tolerance
kv_offloading_size kv_offloading_backend tokens_only shutdown_timeout weight_transfer_config
fail_on_environ_validation gdn_prefill_backend kda_prefill_backend kda_decode_backend
chat_template
""".split())
SLEEP_TAGS = ("weights", "kv_cache")
WORKER_ATTRIBUTES = ("sleep", "wake_up", "get_model", "load_model", "execute_model", "compile_or_warm_up_model")
INT64_MAX = 2**63 - 1


class VLLMValidationError(Exception):
    """vllm.exceptions.VLLMValidationError (a VLLMClientError, not a ValueError)."""


class SamplingParams:
    FIELDS = dict(
        n=1, temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, repetition_penalty=1.0, presence_penalty=0.0,
        frequency_penalty=0.0, max_tokens=16, seed=None, stop=None, stop_token_ids=None,
        include_stop_str_in_output=False, skip_special_tokens=True,
    )  # fmt: skip

    def __init__(self, **kwargs):
        if unknown := set(kwargs) - set(self.FIELDS):
            raise TypeError(f"SamplingParams got unexpected fields {unknown}")
        self.__dict__.update({**self.FIELDS, **kwargs})
        self.stop, self.stop_token_ids = list(self.stop or []), list(self.stop_token_ids or [])
        if not 0.0 <= self.temperature <= 2.0:
            raise VLLMValidationError(f"temperature must be in [0, 2], got {self.temperature}.")
        if not 0.0 < self.top_p <= 1.0 or self.n < 1 or self.max_tokens < 1:
            raise VLLMValidationError(f"bad top_p, n or max_tokens: {self.top_p}, {self.n}, {self.max_tokens}")
        if 0 < self.temperature < 1e-2:
            self.temperature = 1e-2
        if self.temperature < 1e-5 and self.n > 1:
            raise VLLMValidationError(f"n must be 1 when using greedy sampling, got {self.n}.")


class TinyQwen2:
    """Qwen2ForCausalLM's parameters as vLLM names them: hidden 4, 2 query heads and 1 KV head of 2 dims,
    MLP 6, vocabulary 8, untied lm_head (as Qwen2.5-Math-7B)."""

    HIDDEN, Q, KV, MLP, VOCAB = 4, 4, 2, 6, 8
    STACKED = {  # HF name part: (vLLM name part, rows of the stacked parameter it fills)
        "q_proj": ("qkv_proj", slice(0, 4)), "k_proj": ("qkv_proj", slice(4, 6)),
        "v_proj": ("qkv_proj", slice(6, 8)),
        "gate_proj": ("gate_up_proj", slice(0, 6)), "up_proj": ("gate_up_proj", slice(6, 12)),
    }  # fmt: skip

    def __init__(self, layers: int = 2):
        h, q, kv, mlp = self.HIDDEN, self.Q, self.KV, self.MLP
        shapes = {"model.embed_tokens.weight": (self.VOCAB, h), "model.norm.weight": (h,)}
        shapes["lm_head.weight"] = (self.VOCAB, h)
        for i in range(layers):
            at = f"model.layers.{i}"
            shapes |= {
                f"{at}.self_attn.qkv_proj.weight": (q + 2 * kv, h), f"{at}.self_attn.qkv_proj.bias": (q + 2 * kv,),
                f"{at}.self_attn.o_proj.weight": (h, q), f"{at}.mlp.gate_up_proj.weight": (2 * mlp, h),
                f"{at}.mlp.down_proj.weight": (h, mlp), f"{at}.input_layernorm.weight": (h,),
                f"{at}.post_attention_layernorm.weight": (h,),
            }  # fmt: skip
        self.params = {name: torch.nn.Parameter(torch.zeros(s), requires_grad=False) for name, s in shapes.items()}
        self.received: list[tuple[str, torch.Tensor]] = []  # what load_weights was handed, by reference

    def named_parameters(self):
        return iter(self.params.items())

    @torch.no_grad()
    def load_weights(self, weights) -> set[str]:
        loaded = set()
        for name, tensor in weights:
            self.received.append((name, tensor))
            parts = name.split(".")
            rows = slice(None)
            if len(parts) > 2 and parts[-2] in self.STACKED:
                parts[-2], rows = self.STACKED[parts[-2]]
            target = ".".join(parts)
            if target not in self.params:
                raise ValueError(f"There is no module or parameter named {name!r} in Qwen2ForCausalLM")
            param = self.params[target][rows]
            assert param.shape == tensor.shape, f"{name}: {tuple(tensor.shape)} into {tuple(param.shape)}"
            param.copy_(tensor)
            loaded.add(target)
        return loaded

    @staticmethod
    def hf_weights(layers: int = 2) -> list[tuple[str, torch.Tensor]]:
        """The HF-named tensors our trainer pushes for the same model (``named_parameters()`` of the HF model)."""
        h, q, kv, mlp, vocab = TinyQwen2.HIDDEN, TinyQwen2.Q, TinyQwen2.KV, TinyQwen2.MLP, TinyQwen2.VOCAB
        shapes = {"model.embed_tokens.weight": (vocab, h)}
        for i in range(layers):
            at = f"model.layers.{i}"
            shapes |= {
                f"{at}.self_attn.q_proj.weight": (q, h), f"{at}.self_attn.q_proj.bias": (q,),
                f"{at}.self_attn.k_proj.weight": (kv, h), f"{at}.self_attn.k_proj.bias": (kv,),
                f"{at}.self_attn.v_proj.weight": (kv, h), f"{at}.self_attn.v_proj.bias": (kv,),
                f"{at}.self_attn.o_proj.weight": (h, q), f"{at}.mlp.gate_proj.weight": (mlp, h),
                f"{at}.mlp.up_proj.weight": (mlp, h), f"{at}.mlp.down_proj.weight": (h, mlp),
                f"{at}.input_layernorm.weight": (h,), f"{at}.post_attention_layernorm.weight": (h,),
            }  # fmt: skip
        shapes |= {"model.norm.weight": (h,), "lm_head.weight": (vocab, h)}
        generator = torch.Generator().manual_seed(0)
        return [(name, torch.randn(shape, generator=generator)) for name, shape in shapes.items()]


def _refuse_unplain(name: str, value) -> None:
    if isinstance(value, Mapping) and not isinstance(value, dict):
        raise TypeError(f"LLM({name}=...): a {type(value).__name__}, not a dict, is not converted to a config")
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, list, tuple)):
        raise TypeError(f"LLM({name}=...): a {type(value).__name__} is not a list")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_unplain(f"{name}.{key}", item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_unplain(name, item)


def make_module(tokenizer, eos: int) -> types.ModuleType:
    """A fresh ``vllm`` module whose model "says" ``vllm.script(prompt, seed)``."""
    vllm = types.ModuleType("vllm")
    vllm.instances, vllm.finish_override, vllm.reverse_outputs = [], None, False
    vllm.reset_ok, vllm.wake_ok = True, True  # what reset_prefix_cache / a full wake_up report
    vllm.script = lambda prompt, seed: tokenizer.encode(f"{tokenizer.decode(prompt)}->{seed}") + [eos]

    class Worker:
        pass

    for attribute in WORKER_ATTRIBUTES:
        setattr(Worker, attribute, lambda self: None)

    class LLM:
        def __init__(self, model: str, **kwargs):
            for name, value in kwargs.items():
                if name not in ENGINE_ARGS:
                    raise TypeError(f"EngineArgs.__init__() got an unexpected keyword argument {name!r}")
                _refuse_unplain(name, value)
            self.kwargs, self.calls, self.generate_calls = {"model": model, **kwargs}, [], []
            self.sleeping: set[str] = set()
            max_len = kwargs.get("max_model_len", 4096)
            self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=max_len))
            module, _, name = kwargs["worker_extension_cls"].rpartition(".")
            extension = getattr(importlib.import_module(module), name)
            for attribute in dir(extension):
                assert attribute.startswith("__") or not hasattr(Worker, attribute), f"{attribute} clashes"
            self.worker = type("ExtendedWorker", (Worker, extension), {})()
            self.model = TinyQwen2()
            self.worker.model_runner = SimpleNamespace(get_model=lambda: self.model)
            vllm.instances.append(self)

        def generate(self, prompts, sampling_params, *, use_tqdm=True):
            if self.sleeping:
                raise RuntimeError(f"generate while {sorted(self.sleeping)} sleep: the paused scheduler would hang")
            if any(p.isnan().any() for p in self.model.params.values()):
                raise RuntimeError("generate with weights a level-2 sleep discarded")
            self.generate_calls.append((prompts, sampling_params, use_tqdm))
            outs = [
                SimpleNamespace(
                    request_id=str(r),
                    prompt_token_ids=prompt["prompt_token_ids"],
                    outputs=[self._sample(prompt["prompt_token_ids"], sp, i) for i in range(sp.n)],
                    finished=True,
                )
                for r, (prompt, sp) in enumerate(zip(prompts, sampling_params))
            ]
            return outs[::-1] if vllm.reverse_outputs else outs

        def _sample(self, prompt, sp, index):
            seed = None if sp.seed is None else sp.seed + index
            if seed is not None and not -INT64_MAX - 1 <= seed <= INT64_MAX:
                raise OverflowError(f"Python integer {seed} out of bounds for int64")
            tokens, reason, stop_reason, text = [], None, None, None
            for token in vllm.script(prompt, seed):
                tokens.append(token)
                if token == eos:
                    reason = "stop"
                elif token in sp.stop_token_ids:
                    reason, stop_reason = "stop", token
                else:
                    text = tokenizer.decode(tokens, skip_special_tokens=sp.skip_special_tokens)
                    if hit := next((s for s in sp.stop if s in text), None):
                        reason, stop_reason, text = "stop", hit, text[: text.index(hit) + len(hit)]
                    elif len(tokens) >= sp.max_tokens:
                        reason = "length"
                if reason:
                    break
            if stop_reason is None:
                text = tokenizer.decode(tokens, skip_special_tokens=sp.skip_special_tokens)
            reason = vllm.finish_override or reason
            return SimpleNamespace(
                index=index, text=text, token_ids=tokens, finish_reason=reason, stop_reason=stop_reason
            )

        def collective_rpc(self, method, timeout=None, args=(), kwargs=None):
            self.calls.append(("collective_rpc", method))
            if not hasattr(self.worker, method):
                raise NotImplementedError(f"Method {method!r} is not implemented.")
            return [getattr(self.worker, method)(*args, **(kwargs or {}))]

        def sleep(self, level=1, mode="abort"):
            self.calls.append(("sleep", level))
            if level >= 1 and not self.sleeping:
                self.sleeping = set(SLEEP_TAGS)
                if level == 2:
                    for param in self.model.params.values():
                        param.data.fill_(float("nan"))

        def wake_up(self, tags=None) -> bool:
            self.calls.append(("wake_up", tags))
            assert tags is None or set(tags) <= {*SLEEP_TAGS, "scheduling"}, tags
            self.sleeping -= set(SLEEP_TAGS if tags is None else tags)
            return not self.sleeping and vllm.wake_ok

        def reset_prefix_cache(self, reset_running_requests=False, reset_connector=False) -> bool:
            self.calls.append(("reset_prefix_cache",))
            return vllm.reset_ok

    vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
    return vllm
