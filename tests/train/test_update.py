"""The trainer's update and step, in-process: a tiny Qwen2 built here, DeepSpeed ZeRO-3 in a world of one,
and a scripted rollout engine, so every number below follows from the scripted rollout by hand.

The script: four prompts, each with a group of four responses. The first response of a group is right
(``\\boxed{5}``: 9 characters + EOS = 10 tokens), the three others wrong and longer (``the sum is
\\boxed{7}``: 20 + 1 = 21 tokens). Ground-truth rewards [1, 0, 0, 0] in every group give GRPO advantages
(r - 0.25) / 0.5 = [1.5, -0.5, -0.5, -0.5] (unbiased std: sqrt((0.75^2 + 3 * 0.25^2) / 3) = 0.5).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from conftest import GROUND_TRUTH_SPECS, compose_run
from rlvr.config import TinyArch
from rlvr.data import Problem
from rlvr.data.prompts import resolve_prompt
from rlvr.rewards import build_reward
from rlvr.rollout import Completion, RolloutEngine
from rlvr.train import distributed as D
from rlvr.train.loop import GRPOTrainer
from rlvr.train.parts import TrainingParts
from rlvr.train.plan import plan_step
from rlvr.train.policy import init_policy
from rlvr.train.rundir import RunDir

RIGHT, WRONG = r"\boxed{5}", r"the sum is \boxed{7}"
PROBLEMS = [Problem(f"p{i}", f"{i}+{5 - i}", "5") for i in range(4)]
ADVANTAGES = [1.5, -0.5, -0.5, -0.5]
LENGTHS = [len(RIGHT) + 1, len(WRONG) + 1, len(WRONG) + 1, len(WRONG) + 1]  # + EOS


class ScriptedGroups(RolloutEngine):
    """Every prompt gets the same group: RIGHT, then WRONG three times; tokens from the real tokenizer."""

    def __init__(self, tokenizer):
        self.tokenizer, self.pad_id = tokenizer, tokenizer.pad_token_id
        self.loaded = 0

    def generate(self, prompts, params):
        eos = self.tokenizer.eos_token_id
        texts = [RIGHT, WRONG, WRONG, WRONG][: params.n]
        group = [Completion((*self.tokenizer.encode(t, add_special_tokens=False), eos), t, "stop") for t in texts]
        return [list(group) for _ in prompts]

    def load_weights(self, weights):
        for _ in weights:
            self.loaded += 1


def save_small_model(path) -> None:
    """A one-layer tiny model (seed 0) and the character tokenizer, saved to ``path``."""
    from rlvr.models.tiny import build_char_tokenizer, build_tiny_model

    tokenizer = build_char_tokenizer()
    torch.manual_seed(0)
    arch = TinyArch(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                    num_key_value_heads=1, max_position_embeddings=64, rope_theta=10.0)  # fmt: skip
    build_tiny_model(tokenizer, arch).save_pretrained(path)
    tokenizer.save_pretrained(path)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    save_small_model(path)
    return path


class VotingGroups(ScriptedGroups):
    """The group of ScriptedGroups, then four more RIGHT samples: votes for TTRL beyond the group."""

    def __init__(self, tokenizer):
        super().__init__(tokenizer)
        self.calls = []

    def generate(self, prompts, params):
        self.calls.append(params.n)
        eos = self.tokenizer.eos_token_id
        texts = ([RIGHT, WRONG, WRONG, WRONG] + [RIGHT] * 4)[: params.n]
        group = [Completion((*self.tokenizer.encode(t, add_special_tokens=False), eos), t, "stop") for t in texts]
        return [list(group) for _ in prompts]


def trainer_for(world, model_dir, tmp_path, *, mini_batch_size, epochs=1, aggregation="seq-mean-token-mean", lr=1e-4,
                checkpointing=False, problems=PROBLEMS, whiten=False, reward=None, engine=ScriptedGroups,
                single_process_zero_stage=3):
    from rlvr.hf import load_tokenizer

    cfg = compose_run()
    cfg.algorithm = replace(cfg.algorithm, rollout_batch_size=4, group_size=4, mini_batch_size=mini_batch_size,
                            epochs_per_rollout=epochs, loss_aggregation=aggregation, max_response_len=32, lr=lr,
                            advantage=replace(cfg.algorithm.advantage, whiten=whiten))  # fmt: skip
    cfg.trainer = replace(cfg.trainer, micro_batch_size=4, single_process_zero_stage=single_process_zero_stage)
    cfg.model = replace(cfg.model, gradient_checkpointing=checkpointing)
    tokenizer = load_tokenizer(str(model_dir))
    policy, _ = init_policy(str(model_dir), cfg.model, cfg.algorithm, cfg.trainer, world.world_size)
    parts = TrainingParts(
        config=cfg, plan=plan_step(cfg, world.world_size), dist=world, run_dir=RunDir(tmp_path, is_main=True),
        tokenizer=tokenizer, engine=engine(tokenizer), policy=policy, reference=None,
        reward=reward or build_reward("ground_truth"), prompt=resolve_prompt(cfg.model.prompt), problems=problems, benchmarks=[],
        config_hash="test",
    )  # fmt: skip
    return GRPOTrainer(parts)


def record_backward(policy) -> list[float]:
    """The loss of every backward call, as DeepSpeed receives it (before its 1 / accumulation scaling)."""
    losses, backward = [], policy.backward
    policy.backward = lambda loss, **kw: (losses.append(loss.item()), backward(loss, **kw))[1]
    return losses


@pytest.mark.parametrize("mini_batch_size, epochs, expected", [(16, 1, 1), (8, 1, 2), (8, 2, 4), (4, 3, 12)])
def test_optimizer_steps_per_rollout(world, model_dir, tmp_path, mini_batch_size, epochs, expected):
    # 16 samples / mini-batch x epochs optimizer steps; every micro-batch of 4 samples is one backward
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=mini_batch_size, epochs=epochs)
    losses = record_backward(trainer.policy)
    trainer.step(1)
    assert trainer.policy.global_steps == expected == trainer.plan.optimizer_steps_per_rollout
    assert len(losses) == 16 // 4 * epochs


def test_token_mean_micro_batch_weights_recombine_to_the_rollouts_token_mean(world, model_dir, tmp_path):
    # One optimizer step over all 16 samples in 4 micro-batches of unequal token counts. At the start the
    # ratio is 1, so each token's loss is -A of its response, and the rollout's token mean is
    #   -(sum_i A_i T_i) / (sum_i T_i) = -(1.5 * 10 - 0.5 * 3 * 21) / (10 + 3 * 21) = 16.5 / 73 per group.
    # DeepSpeed averages the 4 micro-batch losses; the weights make that average equal the token mean.
    expected = -sum(a * t for a, t in zip(ADVANTAGES, LENGTHS)) / sum(LENGTHS)
    assert expected == pytest.approx(16.5 / 73)
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=16, aggregation="token-mean")
    losses = record_backward(trainer.policy)
    trainer.step(1)
    assert len(losses) == 4 and sum(losses) / 4 == pytest.approx(expected, abs=1e-5)
    # unweighted, the average would be the mean of per-micro-batch token means: not the same number
    assert len({round(loss, 6) for loss in losses}) > 1


def test_step_metrics_follow_from_the_script(world, model_dir, tmp_path):
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=16)
    metrics = trainer.step(1)
    assert metrics["train/reward_mean"] == metrics["train/accuracy"] == 0.25
    assert metrics["train/frac_zero_std_groups"] == 0 and metrics["train/code_rate"] == 0
    assert metrics["train/advantage_abs_mean"] == pytest.approx(sum(map(abs, ADVANTAGES)) / 4)
    assert metrics["train/response_len_mean"] == sum(LENGTHS) / 4 and metrics["train/response_len_max"] == 21
    assert metrics["train/truncated_frac"] == 0 and metrics["train/grader_timeouts"] == 0
    prompt_tokens = sum(4 * len(p.problem + "=") for p in PROBLEMS)  # "{problem}=", a character a token
    assert metrics["perf/tokens"] == prompt_tokens + 4 * sum(LENGTHS)
    # one optimizer step after every micro-batch: the policy has not moved while any ratio is computed
    assert metrics["actor/ratio_max"] == pytest.approx(1, abs=1e-5) == metrics["actor/ratio_min"]
    assert metrics["actor/clip_frac"] == 0 and metrics["actor/clip_frac_low"] == metrics["actor/clip_frac_high"] == 0
    # seq-mean-token-mean at ratio 1: a micro-batch's loss is -mean(A) over its 4 responses, and the mean of
    # the 4 micro-batch losses is -mean(A) over all 16, which is 0 (advantages sum to 0 in every group)
    assert metrics["actor/loss"] == pytest.approx(0, abs=1e-5)
    assert 0 < metrics["actor/entropy"] < torch.log(torch.tensor(100.0)).item()  # below uniform over the vocabulary
    assert 0 < metrics["actor/grad_norm"] < float("inf") and metrics["actor/lr"] == trainer.alg.lr
    assert trainer.engine.loaded > 0  # the step pushed the policy's weights into the engine first


def test_a_second_epoch_sees_a_moved_policy(world, model_dir, tmp_path):
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=8, epochs=2, lr=1e-2)  # big steps
    metrics = trainer.step(1)
    assert metrics["actor/ratio_max"] > 1 + 1e-4 or metrics["actor/ratio_min"] < 1 - 1e-4


def test_in_a_world_of_one_zero1_trains_the_same_weights_as_zero3(world, model_dir, tmp_path):
    """Why a run of one process may take stage 1 (``trainer.single_process_zero_stage``): the same two
    optimizer steps give the same weights, up to float summation order."""
    from rlvr.train.policy import full_parameters

    weights = {}
    for stage in (3, 1):
        trainer = trainer_for(world, model_dir, tmp_path / str(stage), mini_batch_size=8, lr=1e-2,
                              single_process_zero_stage=stage)  # fmt: skip
        assert trainer.policy.zero_optimization_stage() == stage
        trainer.step(1)
        weights[stage] = {name: tensor.clone() for name, tensor in full_parameters(trainer.policy.module)}
    from rlvr.hf import load_causal_lm

    start = dict(load_causal_lm(str(model_dir), dtype="float32", trust_remote_code=False).named_parameters())
    assert weights[1].keys() == weights[3].keys() == start.keys()
    assert max((weights[3][n] - start[n]).abs().max() for n in start) > 1e-3  # the steps moved the weights
    # Adam moves every weight by about lr = 1e-2 per step whatever its gradient's size, so float summation
    # order differences in tiny gradients show as up to ~3e-6 here: far below the 2e-2 the weights moved.
    for name, tensor in weights[3].items():
        torch.testing.assert_close(weights[1][name], tensor, rtol=0, atol=1e-5, msg=name)


def test_in_a_world_of_one_zero3_keeps_torchs_own_linear(world, model_dir, tmp_path):
    """ZeRO-3's memory-efficient linear replaces F.linear for the whole process; with one rank nothing is
    gathered, so it would only slow every linear layer (the engine's generation too)."""
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=16, single_process_zero_stage=None)
    assert trainer.policy.zero_optimization_stage() == 3
    assert torch.nn.functional.linear is torch._C._nn.linear
    assert trainer.step(1)["actor/grad_norm"] > 0


def test_the_policy_trains_in_training_mode_with_activations_checkpointed(world, model_dir, tmp_path):
    """transformers checkpoints a layer only in training mode; from_pretrained returns eval mode."""
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=16, checkpointing=True)
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in trainer.policy.module.modules() if isinstance(m, GradientCheckpointingLayer)]
    assert len(layers) == 1 and layers[0].gradient_checkpointing  # the model built above has one layer
    calls = []
    for layer in layers:
        checkpoint = layer._gradient_checkpointing_func
        layer._gradient_checkpointing_func = lambda *a, _c=checkpoint, **k: (calls.append(1), _c(*a, **k))[1]
    trainer.step(1)
    assert trainer.policy.module.training
    # one checkpointed call per layer per micro-batch that computes gradients: 16 samples / 4 = 4 (the old
    # log-probs, without gradients, run the layer plainly)
    assert len(calls) == 4


def test_every_collective_gets_its_tensor_on_the_process_groups_device(world, model_dir, tmp_path, monkeypatch):
    """Under NCCL a CPU tensor handed to a collective crashes the run. On this CPU machine the process group's
    device is stood in for by "meta": every collective of a step must receive meta tensors (the fakes below
    record them and answer with zeros on the CPU, so the step runs on)."""
    received = []

    def fake(values):
        received.append(values.device.type)
        return torch.zeros(values.shape)

    monkeypatch.setattr(D, "all_reduce_sum", fake)
    monkeypatch.setattr(D, "all_reduce_max", fake)
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=8, aggregation="token-mean")
    trainer.dist = replace(world, collective_device=torch.device("meta"))
    trainer.step(1)
    assert len(received) >= 3 and set(received) == {"meta"}  # token counts, metric sums, metric maxima


def test_a_collective_refuses_a_tensor_on_another_device_than_the_groups(monkeypatch):
    monkeypatch.setattr(D, "_group_device_type", "cuda")  # as under NCCL
    with pytest.raises(RuntimeError, match="handed a cpu tensor, but the process group reduces cuda tensors"):
        D.all_reduce_sum(torch.ones(2))


def test_accuracy_is_graded_against_the_truth_and_label_accuracy_against_the_label(world, model_dir, tmp_path):
    """Majority-vote style: every problem labelled with the wrong answer 7 (truth: 5). The ground-truth reward
    pays the three WRONG responses (they match the label); accuracy still counts only RIGHT."""
    labelled = [Problem(p.id, p.problem, "7", true_answer="5") for p in PROBLEMS]
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=16, problems=labelled)
    metrics = trainer.step(1)
    assert metrics["train/reward_mean"] == metrics["train/label_accuracy"] == 0.75
    assert metrics["train/accuracy"] == 0.25
    import pandas as pd

    rows = pd.read_parquet(tmp_path / "rollouts" / "step_1.parquet")
    assert (rows.answer == "7").all() and (rows.true_answer == "5").all()
    assert (rows.correct == (rows.response == RIGHT)).all() and (rows.label_correct == (rows.response == WRONG)).all()


def test_the_official_recipe_whitens_advantages_over_the_rollouts_tokens(world, model_dir, tmp_path):
    """Every group is [RIGHT, WRONG x 3] with 10 and 21 tokens: GRPO gives 1.5 and -0.5; over the 73 tokens of a
    group (every group alike, so of the rollout) mean = (15 - 31.5) / 73 = -0.2260274, var = (10 * 1.7260274^2 +
    63 * 0.2739726^2) / 73 = 0.4728842, so 1.5 -> 1.7260274 / 0.6876658 = 2.5099801 and -0.5 -> -0.3984095."""
    import pandas as pd

    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=16, aggregation="pack-token-mean", whiten=True)
    metrics = trainer.step(1)
    rows = pd.read_parquet(tmp_path / "rollouts" / "step_1.parquet")
    expected = rows.response.map({RIGHT: 2.5099801, WRONG: -0.3984095})
    assert rows.advantage.tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    assert metrics["train/advantage_abs_mean"] == pytest.approx((2.5099801 + 3 * 0.3984095) / 4, abs=1e-6)


def test_each_rank_is_seeded_after_the_rollout_engine_which_seeds_every_rank_alike(monkeypatch, tmp_path):
    """vLLM seeds the global random state with its own seed when it starts, identically on every rank."""
    import rlvr.build as build
    from rlvr.seeding import derive_seed

    class Stop(Exception):
        pass

    def engine_like_vllm(*args, **kwargs):
        torch.manual_seed(0)
        return None, None

    def policy(*args, **kwargs):
        raise Stop(torch.initial_seed())

    monkeypatch.setattr(build, "resolve_model_path", lambda *a: "model")
    monkeypatch.setattr(build, "build_rollout", engine_like_vllm)
    monkeypatch.setattr(build, "init_policy", policy)
    cfg = compose_run()
    for rank in (0, 1):
        dist = D.DistInfo(rank, 2, rank, torch.device("cpu"), torch.device("cpu"))
        with pytest.raises(Stop) as stopped:
            build.build_training(cfg, plan_step(cfg, 2), dist, tmp_path)
        assert stopped.value.args[0] == derive_seed(cfg.seed, "init", rank)


@pytest.mark.parametrize("votes_from", ["all", "kept"])
def test_ttrl_samples_its_votes_in_one_call_and_trains_on_the_group(world, model_dir, tmp_path, votes_from):
    """8 samples per prompt: the group [RIGHT, WRONG x 3], then RIGHT x 4. Over all 8 votes the label is 5 (5 votes
    to 3): rewards [1, 0, 0, 0], the truth's. Over the kept 4 it is 7 (3 to 1): rewards [0, 1, 1, 1], each one
    disagreeing with correctness."""
    import pandas as pd

    reward = build_reward("ttrl", n_votes=8, votes_from=votes_from)
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=16, reward=reward, engine=VotingGroups)
    metrics = trainer.step(1)
    assert trainer.engine.calls == [8]
    rows = pd.read_parquet(tmp_path / "rollouts" / "step_1.parquet")
    assert len(rows) == 16 and rows.groupby("prompt_id").size().tolist() == [4] * 4
    assert rows.response.tolist() == [RIGHT, WRONG, WRONG, WRONG] * 4  # the group, never the extra votes
    assert metrics["train/accuracy"] == 0.25
    if votes_from == "all":
        assert metrics["train/reward_mean"] == 0.25 and metrics["train/reward_truth_agreement"] == 1
        assert metrics["reward/ttrl/label_hit_rate"] == 1 and metrics["reward/ttrl/reward_agreement"] == 1
        assert metrics["reward/ttrl/majority_share"] == metrics["reward/ttrl/true_answer_share"] == 5 / 8
    else:
        assert metrics["train/reward_mean"] == 0.75 and metrics["train/reward_truth_agreement"] == 0
        assert metrics["reward/ttrl/label_hit_rate"] == 0 and metrics["reward/ttrl/reward_agreement"] == 0
        assert metrics["reward/ttrl/majority_share"] == 3 / 4 and metrics["reward/ttrl/true_answer_share"] == 1 / 4
    assert metrics["reward/ttrl/unlabelled_frac"] == 0



UNBOXED = "so the sum is 5"


class CutGroups(ScriptedGroups):
    """Every group: one unboxed text that ends in the right number, finished (with EOS), then cut at the length
    limit (without), twice over."""

    def generate(self, prompts, params):
        tokens = tuple(self.tokenizer.encode(UNBOXED, add_special_tokens=False))
        finished = Completion((*tokens, self.tokenizer.eos_token_id), UNBOXED, "stop")
        cut = Completion(tokens, UNBOXED, "length")
        return [[finished, cut, finished, cut] for _ in prompts]


@pytest.mark.parametrize("spec", GROUND_TRUTH_SPECS)
def test_a_truncated_response_gets_no_ground_truth_reward_from_its_last_number(world, model_dir, tmp_path, spec):
    """The same text without a box scores 1 when it finished (math-verify reads its last number, 5) and 0 when it
    was cut at the length limit ("so the sum is 5" may have gone on "0"): the trainer passes the cut to the reward."""
    import pandas as pd

    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=16, reward=build_reward(**spec), engine=CutGroups)
    metrics = trainer.step(1)
    rows = pd.read_parquet(tmp_path / "rollouts" / "step_1.parquet")
    assert rows.finished.tolist() == [True, False] * 8
    assert rows.reward.tolist() == [1.0, 0.0] * 8
    assert rows.correct.tolist() == [True, False] * 8  # the accuracy metric reads them alike
    assert metrics["train/reward_mean"] == metrics["train/fallback_denied_truncated"] == 0.5


def test_the_trainer_passes_a_problems_options_to_the_reward_and_the_accuracy(world, model_dir, tmp_path):
    """Gold "B" of options A = 7, B = 5: the scripted group's \\boxed{5} is its content, so it earns the reward
    and counts as correct; \\boxed{7} (option A's content) does not."""
    import pandas as pd

    choice = [replace(p, answer="B", options=(("A", "7"), ("B", "5"))) for p in PROBLEMS]
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=16, problems=choice)
    metrics = trainer.step(1)
    rows = pd.read_parquet(tmp_path / "rollouts" / "step_1.parquet")
    assert rows.reward.tolist() == [1.0, 0.0, 0.0, 0.0] * 4 and rows.correct.tolist() == [True, False, False, False] * 4
    assert metrics["train/reward_mean"] == metrics["train/accuracy"] == 0.25
