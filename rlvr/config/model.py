"""Schemas of the ``model`` and ``prompt`` groups: which weights, in which prompt format, on what hardware.

The ten paper models share ``conf/model/base/paper.yaml``; the base models without a chat template
(Llama 3.1 8B, Llama 3.2 3B, OLMo 2 7B) take the R1-style prompt of ``conf/model/base/r1_prompt.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from omegaconf import MISSING

from rlvr.config.data import ArithmeticSpec


@dataclass
class PromptFormat:
    """How a model is prompted, as its model file sets it (``model.prompt``)."""

    style: str = MISSING
    """``chat``: the tokenizer's chat template with one user message (the paper's, for models that have
    one; Qwen2.5-Math's template adds its default system prompt "Please reason step by step, and put your
    final answer within \\boxed{}."); ``template``: ``template`` with the problem put in; ``raw``: the problem."""
    template: Optional[str] = None
    """For ``style: template``: text with a ``{problem}`` placeholder (literal braces are fine)."""
    system: Optional[str] = None
    """For ``style: chat``: a system message; null: none (the template's own default, if it has one)."""
    answer_format: str = "boxed"
    """Where the grader reads the answer (``rlvr.rewards.ANSWER_FORMATS``): ``boxed`` (the last \\boxed{});
    ``answer_tag`` (the R1 template, read as the paper's training reads it: the text after the last
    ``<answer>``, then its box, "the answer is" or its last number; evaluation reads the whole response,
    as the paper's ``eval_checkpoint.py`` does); ``answer_tag_strict`` (only a closed ``<answer>`` span);
    ``answer_rules`` (box, "the answer is" or last number, in the whole response)."""
    stop: list[str] = field(default_factory=list)
    """Extra stop strings, kept in the response (the R1 template stops at ``</answer>``); EOS always stops."""
    add_special_tokens: Optional[bool] = None
    """Whether the tokenizer adds its special tokens (a BOS token) to the prompt; null: chat templates add
    none (they spell out their own), other styles the tokenizer's own. The R1 template: false, as the
    paper's training tokenises prompts (``naive_samples_maker.py: tokenize_fn``, ``add_special_tokens=False``)."""


@dataclass
class PromptConfig:
    """A ``prompt`` group file: fields laid over the model's own format (null keeps the model's), so that
    one run or evaluation can change the prompt (reviewers of the paper showed base-model scores moving
    by up to 14 points with the prompt alone). Its ``name`` is recorded with every result."""

    name: str = MISSING
    """``default`` (the model's own format), ``none``, ``simplerl``, ``python_prefix``, ``r1_zero``."""
    style: Optional[str] = None
    """Replaces ``model.prompt.style`` (``template``, ``chat``, ``raw``)."""
    template: Optional[str] = None
    """Replaces ``model.prompt.template``."""
    system: Optional[str] = None
    """Replaces ``model.prompt.system``."""
    answer_format: Optional[str] = None
    """Replaces ``model.prompt.answer_format``."""
    stop: Optional[list[str]] = None
    """Replaces ``model.prompt.stop``."""
    add_special_tokens: Optional[bool] = None
    """Replaces ``model.prompt.add_special_tokens``. Left null by a file that replaces the style or the
    template, it is null (the default rule), not the model's: the model's setting goes with its template."""
    response_prefix: Optional[str] = None
    """Text the response is forced to begin with, appended to the prompt (Table 3: "Let's solve this
    using Python."). The response, its grade and its code flag are about what follows it."""


@dataclass
class TinyArch:
    """``transformers.Qwen2Config`` fields of the tiny model (~1 M parameters)."""

    hidden_size: int = MISSING
    """Width of the residual stream."""
    intermediate_size: int = MISSING
    """Width of the MLP."""
    num_hidden_layers: int = MISSING
    """Transformer blocks."""
    num_attention_heads: int = MISSING
    """Query heads."""
    num_key_value_heads: int = MISSING
    """Key/value heads (grouped-query attention, as in Qwen2)."""
    max_position_embeddings: int = MISSING
    """Longest prompt + response, in characters (a token is a character)."""
    rope_theta: float = MISSING
    """Short sequences: a small RoPE base makes positions easy to tell apart (learns about 2x faster)."""


@dataclass
class WarmupConfig:
    """The tiny model's supervised warm-start on synthetic worked solutions (``rlvr.models.tiny``)."""

    target_accuracy: float = MISSING
    """Stop once greedy accuracy on training problems reaches this: a middling model leaves GRPO headroom."""
    check_every: int = MISSING
    """Steps between accuracy checks."""
    check_size: int = MISSING
    """Training problems the accuracy is checked on (the held-out ones are never looked at)."""
    max_steps: int = MISSING
    """Give up after this many steps even below ``target_accuracy``."""
    batch_size: int = MISSING
    """Worked solutions per step."""
    lr: float = MISSING
    """AdamW learning rate after the warm-up steps."""
    warmup_steps: int = MISSING
    """Linear learning-rate warm-up."""
    betas: list[float] = MISSING
    """AdamW betas."""
    grad_clip: float = MISSING
    """Global gradient-norm clip."""
    code_style_frac: float = MISSING
    """Share of worked solutions that "reason in python": the prior that GRPO's clip can amplify."""
    carryless_style: Optional[str] = None
    """The style (``language`` or ``code``) whose worked solutions drop carries, so that it is the less
    accurate one (``language``: code reasoning is the better strategy, as in Qwen2.5-Math; ``code``: the
    worse one, as in OLMo-2-SFT); null: both styles add correctly."""
    check: str = "greedy"
    """How ``target_accuracy`` is measured on the check problems: ``greedy`` (one greedy response each,
    right or not), or ``sampled`` (one response each at temperature 1, judged against what its style was
    taught: the warm-up has learnt both styles' answers, whichever style each sample takes)."""
    seed: int = MISSING
    """Initial weights and the order of worked solutions."""


@dataclass
class TinySpec:
    """Everything that determines the warm-started tiny model; it is cached under a hash of all of it."""

    arch: TinyArch = field(default_factory=TinyArch)
    data: ArithmeticSpec = field(default_factory=ArithmeticSpec)
    """The same problems as ``data/arithmetic``, so that its held-out problems stay unseen in the warm-up."""
    warmup: WarmupConfig = field(default_factory=WarmupConfig)


@dataclass
class ModelConfig:
    name: str = MISSING
    """Short name used in run names and by ``analysis`` (``qwen2.5_math_7b``)."""
    name_or_path: Optional[str] = None
    """A hub name (the paper's exact model) or a local directory with the same weights; null for the tiny
    model, which is built in code."""
    label_name: str = MISSING
    """Its majority-vote label file: ``${paths.labels_dir}/<label_name>.json`` (the paper's file names)."""
    dtype: str = MISSING
    """``bfloat16`` for the paper's models (paper: bf16 training), ``float32`` on CPU."""
    trust_remote_code: bool = False
    """Passed to transformers; no paper model needs it."""
    gradient_checkpointing: bool = MISSING
    """Recompute activations in the backward pass: needed for 7B models at 4k tokens."""
    prompt: PromptFormat = field(default_factory=PromptFormat)
    tiny: Optional[TinySpec] = None
    """Set only by ``model=tiny``: build and warm-start the tiny model instead of loading ``name_or_path``."""


@dataclass
class ResourcesConfig:
    """What one run needs, for ``python -m rlvr.plan`` and the SLURM launcher (set per model)."""

    gpus: int = 0
    """GPUs of one training run; 0: it runs on CPU. The paper trained 7-8B models on 8 GPUs."""
    seconds_per_step: Optional[float] = None
    """Rough wall time of one GRPO step on those GPUs, for GPU-hour estimates; null: unknown."""
