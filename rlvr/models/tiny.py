"""The tiny model: a ~1 M-parameter Qwen2 with a character tokenizer, built locally and warm-started.

Nothing is downloaded. The tokenizer is made from a fixed character set; the model from a ``Qwen2Config``.
A short supervised phase on synthetic worked solutions (see ``rlvr.data.arithmetic``) brings it to an
accuracy well between 0 and 1, so that GRPO has signal. The result is saved with ``save_pretrained`` in a
cache directory keyed by everything that determines it, so later runs (and every rank of a distributed
run) load it through the same ``from_pretrained`` path as a real model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import random
import string
import time
from pathlib import Path
from typing import Any, Iterator

import torch
from tqdm.auto import tqdm

from rlvr.config import PromptFormat, TinyArch, TinySpec
from rlvr.data.arithmetic import SOLUTION_STYLES, arithmetic_problems, taught_answer, worked_solution
from rlvr.data.prompts import Prompt, format_prompt, resolve_prompt
from rlvr.hf import CHAR_TOKENIZER_MARKER
from rlvr.rewards.extract import is_code_reasoning
from rlvr.rollout.base import SamplingParams
from rlvr.rollout.hf import HFEngine

log = logging.getLogger(__name__)

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
CHARACTERS = string.printable.replace("\x0b", "").replace("\x0c", "").replace("\r", "")  # 97 characters
# Bump when the code below changes what a warm-started model is, so stale caches are not reused.
TINY_FORMAT_VERSION = 2


def build_char_tokenizer():
    """A character-level ``PreTrainedTokenizerFast``: one token per printable character."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate([PAD, EOS, UNK, *CHARACTERS])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character alone
    core.decoder = decoders.Fuse()  # join characters back without spaces
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=EOS, unk_token=UNK)
    # AutoTokenizer would rebuild a Qwen2 tokenizer from the model type and drop our pre-tokenizer; this
    # marker (saved in tokenizer_config.json, and kept by every later save) tells `load_tokenizer` not to.
    tokenizer.init_kwargs[CHAR_TOKENIZER_MARKER] = "char"
    return tokenizer


def build_tiny_model(tokenizer, arch: TinyArch):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
        **dataclasses.asdict(arch),
    )
    return Qwen2ForCausalLM(config)


# The prompt fields that shape what the warm-up teaches. (add_special_tokens does not: the character tokenizer
# has no special tokens to add, and leaving it out keeps models cached before the field existed.)
TINY_PROMPT_FIELDS = ("style", "template", "system", "answer_format", "stop")
# Warm-up fields added after models were cached, with their defaults: left out of the key at those values,
# so that a cached model that was built before the field existed (and means the same) stays valid.
LATER_WARMUP_FIELDS = {"carryless_style": None, "check": "greedy"}
WARMUP_CHECKS = ("greedy", "sampled")


def tiny_cache_key(spec: TinySpec, prompt_format: PromptFormat) -> str:
    """A hash of everything that determines the warm-started model (and of this code's format version)."""
    prompt = {key: getattr(prompt_format, key) for key in TINY_PROMPT_FIELDS}
    fields = dataclasses.asdict(spec)
    for key, default in LATER_WARMUP_FIELDS.items():
        if fields["warmup"].get(key, default) == default:
            fields["warmup"].pop(key, None)
    described = {"v": TINY_FORMAT_VERSION, "spec": fields, "prompt": prompt}
    blob = json.dumps(described, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def ensure_tiny_model(spec: TinySpec, prompt_format: PromptFormat, cache_dir: str | os.PathLike) -> Path:
    """Path of the warm-started tiny model for ``spec``, building it once if the cache does not have it.

    ``spec`` has ``arch`` (Qwen2Config fields), ``data`` (arguments of ``arithmetic_problems``) and
    ``warmup`` (the supervised phase); it learns to answer in ``prompt_format``. A file lock makes
    concurrent callers (ranks, sweep jobs) build it once.
    """
    target = Path(cache_dir).expanduser() / "tiny" / tiny_cache_key(spec, prompt_format)
    if (target / "warmup.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.with_suffix(".lock")):
        if (target / "warmup.json").exists():  # built by someone else while we waited
            return target
        tokenizer = build_char_tokenizer()
        torch.manual_seed(spec.warmup.seed)
        model = build_tiny_model(tokenizer, spec.arch)
        problems = arithmetic_problems(**dataclasses.asdict(spec.data))
        prompt = resolve_prompt(prompt_format)
        report = supervised_warmup(model, tokenizer, problems.train, prompt, **dataclasses.asdict(spec.warmup))
        report["heldout_accuracy"] = greedy_accuracy(model, tokenizer, problems.heldout, prompt)
        # What GRPO starts from: the styles' shares and accuracies among sampled responses (temperature 1).
        report["heldout_sampled"] = sampled_styles(model, tokenizer, problems.heldout, prompt,
                                                   carryless_style=spec.warmup.carryless_style, samples=4)  # fmt: skip
        report["parameters"] = sum(p.numel() for p in model.parameters())
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        described = {"spec": dataclasses.asdict(spec), "prompt": dataclasses.asdict(prompt_format), **report}
        (tmp / "warmup.json").write_text(json.dumps(described, indent=2))
        os.replace(tmp, target)  # atomic: a reader sees the whole model or none
        log.info("tiny model warm-started: %s", report)
    return target


def supervised_warmup(
    model,
    tokenizer,
    problems,
    prompt: Prompt,
    *,
    max_steps: int,
    target_accuracy: float,
    check_every: int,
    check_size: int,
    batch_size: int,
    lr: float,
    warmup_steps: int,
    betas: tuple[float, float],
    grad_clip: float,
    code_style_frac: float,
    seed: int,
    carryless_style: str | None = None,
    check: str = "greedy",
) -> dict[str, Any]:
    """Teach ``model`` the answer format and some arithmetic: cross-entropy on the response tokens.

    Addition is learned in a sudden transition: greedy accuracy stays near 0 for a few hundred steps,
    then jumps within ~100 steps, at a step that varies with the seed. So rather than a fixed step count,
    training stops once greedy accuracy on ``check_size`` *training* problems (the held-out set is never
    looked at) reaches ``target_accuracy``: a middling model, whatever the seed or the machine.
    AdamW with a linear warm-up to a constant learning rate.

    ``carryless_style`` names the style taught to drop carries (the less accurate strategy); with
    ``check="sampled"`` the target is met when samples at temperature 1 give what their style was taught,
    so a sharp model of *both* styles, not only of the greedy one.
    """
    if carryless_style is not None and carryless_style not in SOLUTION_STYLES:
        raise ValueError(f"model.tiny.warmup.carryless_style must be null or one of {SOLUTION_STYLES}, got {carryless_style!r}")
    if check not in WARMUP_CHECKS:
        raise ValueError(f"model.tiny.warmup.check must be one of {WARMUP_CHECKS}, got {check!r}")
    rng = random.Random(seed)
    checks = rng.sample(problems, check_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=tuple(betas), weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup_steps)))
    start, loss, accuracy, step = time.perf_counter(), torch.tensor(float("nan")), 0.0, 0
    with _all_cores():
        for step in (bar := tqdm(range(1, max_steps + 1), desc="tiny warm-up (supervised)", leave=False)):
            model.train()
            batch = [
                (p, "code" if rng.random() < code_style_frac else "language") for p in rng.sample(problems, batch_size)
            ]
            input_ids, labels = _sft_batch(tokenizer, batch, prompt, carryless_style)
            loss = model(input_ids=input_ids, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            schedule.step()
            if step % check_every == 0:
                model.eval()
                if check == "greedy":
                    accuracy = greedy_accuracy(model, tokenizer, checks, prompt)
                else:
                    accuracy = sampled_styles(model, tokenizer, checks, prompt, carryless_style=carryless_style,
                                              samples=1, seed=step)["taught_accuracy"]  # fmt: skip
                if accuracy >= target_accuracy:
                    break
            bar.set_postfix(loss=f"{loss.item():.3f}", train_acc=f"{accuracy:.2f}")
    model.eval()
    return {
        "steps": step,
        "train_accuracy": accuracy,
        "final_loss": loss.item(),
        "seconds": round(time.perf_counter() - start, 1),
    }


def _sft_batch(tokenizer, batch, prompt: Prompt, carryless_style: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded prompt+solution+EOS ids, with labels only on the solution and EOS (-100 elsewhere)."""
    rows = []
    for problem, style in batch:
        ids = tokenizer.encode(format_prompt(problem.problem, prompt), add_special_tokens=False)
        text = worked_solution(problem, style, carryless=style == carryless_style)
        solution = tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id]
        rows.append((ids + solution, [-100] * len(ids) + solution))
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.tensor([ids + [tokenizer.pad_token_id] * (width - len(ids)) for ids, _ in rows])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
    return input_ids, labels


@torch.no_grad()
def greedy_accuracy(model, tokenizer, problems, prompt: Prompt, max_new_tokens: int = 48) -> float:
    """Share of ``problems`` whose greedy response ends in the right ``\\boxed{}`` (exact string match)."""
    engine = HFEngine(model, tokenizer)
    prompts = [tokenizer.encode(format_prompt(p.problem, prompt), add_special_tokens=False) for p in problems]
    with _all_cores():
        outputs = engine.generate(prompts, SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens))
    hits = [out[0].text.rstrip().endswith(f"\\boxed{{{p.answer}}}") for p, out in zip(problems, outputs)]
    return sum(hits) / len(hits)


@torch.no_grad()
def sampled_styles(model, tokenizer, problems, prompt: Prompt, *, carryless_style: str | None, samples: int,
                   max_new_tokens: int = 48, seed: int = 0) -> dict[str, float]:
    """Responses sampled at temperature 1 (``samples`` per problem): the share in the code style
    (``code_rate``, the paper's "python" rule), the accuracy of each style and of all (against the true sum),
    and ``taught_accuracy``, the share that give the answer their style was taught (a carry-dropping style's
    careless sum)."""
    engine = HFEngine(model, tokenizer)
    prompts = [tokenizer.encode(format_prompt(p.problem, prompt), add_special_tokens=False) for p in problems]
    torch.manual_seed(seed)
    with _all_cores():
        outputs = engine.generate(prompts, SamplingParams(n=samples, temperature=1.0, max_new_tokens=max_new_tokens))
    right = {style: [] for style in SOLUTION_STYLES}
    taught = []
    for problem, group in zip(problems, outputs):
        for out in group:
            text = out.text.rstrip()
            style = "code" if is_code_reasoning(text) else "language"
            right[style].append(text.endswith(f"\\boxed{{{problem.answer}}}"))
            careless = taught_answer(problem, carryless=style == carryless_style)
            taught.append(text.endswith(f"\\boxed{{{careless}}}"))
    total = len(taught)
    mean = lambda hits: sum(hits) / len(hits) if hits else float("nan")  # noqa: E731
    return {
        "samples": total,
        "code_rate": len(right["code"]) / total,
        "accuracy": (sum(right["code"]) + sum(right["language"])) / total,
        "accuracy_code": mean(right["code"]),
        "accuracy_language": mean(right["language"]),
        "taught_accuracy": sum(taught) / total,
    }


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _all_cores() -> Iterator[None]:
    """torchrun sets one thread per process; the one-off warm-up may use the whole machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(before, os.cpu_count() or 1))
    try:
        yield
    finally:
        torch.set_num_threads(before)
