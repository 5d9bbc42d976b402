"""``python -m rlvr.label``: majority-vote labels from the model's own samples (the paper's "majority vote" reward).

    python -m rlvr.label                                 # the tiny model, 256 arithmetic problems, on CPU
    python -m rlvr.label model=qwen2.5_math_7b label.num_problems=2000   # on GPUs

Labels the data config's training problems with ``label.num_samples`` samples each (the voting is
``rlvr.data.majority_vote``) and writes ``label.output`` (a JSON list of ``{id, prompt, answer,
true_answer, votes, answered, num_samples, unanimous, label_correct}``, readable by the data loaders) and
``<output>.report.json``: how often the label equals the true answer, how often the vote was unanimous.
``reward=majority_vote`` trains on the labels and ``reward=incorrect`` on the wrong ones.
"""

from __future__ import annotations

from typing import Any

import hydra
from omegaconf import DictConfig

import rlvr  # noqa: F401  (registers the config resolvers and schemas)


def run(cfg: DictConfig) -> dict[str, Any]:
    from rlvr.build import build_labelling
    from rlvr.config import to_run_config
    from rlvr.logs import quiet_console
    from rlvr.data.majority_vote import label_problems, report_path, write_labels

    config = to_run_config(cfg)
    quiet_console(config.verbose)
    parts = build_labelling(config)
    rows, report = label_problems(parts.engine, parts.tokenizer, parts.data.train, parts.prompt, config.label,
                                  seed=config.seed)  # fmt: skip
    report["model"] = config.model.name
    path = write_labels(config.label.output, rows, report)
    print(
        f"labelled {report['labelled']} of {report['problems']} problems ({report['no_answer']} without any answer); "
        f"label accuracy {report['label_accuracy']:.3f}, unanimous {report['unanimous_frac']:.3f}\n"
        f"labels: {path}\nreport: {report_path(path)}\n"
        f"train on them: python -m rlvr.train model={config.model.name} reward=majority_vote paths.labels_dir={path.parent}"
    )
    return report


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
