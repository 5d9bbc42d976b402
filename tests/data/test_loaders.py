from __future__ import annotations

import doctest
import json
import logging
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from rlvr.data import DataError, Problem, ProblemSet, load_problem_set, load_specs, loaders, rows, sources
from rlvr.data.loaders import write_problems_json
from rlvr.data.relabel import one_shot

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("RLVR_DATA", REPO.parent / "shared" / "data"))
LEVELS = [DATA / "train" / f"deepscaler_level{level}.json" for level in range(1, 6)]
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"no data folder at {DATA}; set RLVR_DATA")


def write_json(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps(rows))
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


ROWS = [
    {"id": "a", "prompt": "1+6", "answer": 7},  # a number in the file
    {"id": "b", "prompt": "AMC 1", "answer": "142.0"},  # text is kept as written
    {"id": "c", "prompt": "wind", "answer": 12.8},
]
EXPECTED = [Problem("a", "1+6", "7"), Problem("b", "AMC 1", "142.0"), Problem("c", "wind", "12.8")]


# ---------------------------------------------------------------------------------------------------
# Formats


def test_json_and_jsonl_load_the_same_problems(tmp_path):
    as_json = write_json(tmp_path / "rows.json", ROWS)
    as_jsonl = tmp_path / "rows.jsonl"
    as_jsonl.write_text("\n".join(json.dumps(row) for row in ROWS) + "\n\n")  # a trailing blank line is fine
    assert load_specs(as_json) == (EXPECTED, 0)
    assert load_specs(str(as_jsonl)).problems == EXPECTED
    assert load_specs({"source": as_jsonl, "format": "jsonl"}).problems == EXPECTED


def test_parquet_number_columns_become_text(tmp_path):
    ints = write_parquet(tmp_path / "ints.parquet", [{"problem": "1+6", "answer": 7, "id": 0},
                                                     {"problem": "2+2", "answer": 4, "id": 1}])
    # A float column: integral values lose their ".0" (a column of integers with a gap is read as floats)
    floats = write_parquet(tmp_path / "floats.parquet", [{"problem": "x", "answer": 142.0},
                                                         {"problem": "y", "answer": 12.8}])
    assert load_specs(ints).problems == [Problem("0", "1+6", "7"), Problem("1", "2+2", "4")]
    assert [p.answer for p in load_specs(floats).problems] == ["142", "12.8"]
    assert [p.id for p in load_specs(floats).problems] == ["0", "1"]  # no id column: the row index


def test_a_dataset_folder_loads_as_a_hub_dataset(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    folder = tmp_path / "my_dataset"
    rows = [  # MATH-500's columns on the hub
        {"problem": "Half of one?", "solution": r"It is $\boxed{\frac{1}{2}}$.", "answer": r"\frac{1}{2}",
         "unique_id": "test/a/1.json"},
        {"problem": "Two plus two?", "solution": r"So \boxed{4}.", "answer": "4", "unique_id": "test/a/2.json"},
    ]
    write_parquet(folder / "data" / "train-00000-of-00001.parquet", rows)
    expected = [Problem("test/a/1.json", "Half of one?", r"\frac{1}{2}"),
                Problem("test/a/2.json", "Two plus two?", "4")]
    assert load_specs(str(folder)).problems == expected  # auto: a folder is not a file
    assert load_specs({"source": folder, "format": "hub", "split": "train"}).problems == expected
    from_solution = load_specs({"source": folder, "format": "hub", "fields": {"solution": "solution"}}).problems
    assert [p.answer for p in from_solution] == [r"\frac{1}{2}", "4"]
    with pytest.raises(DataError, match="as a hub dataset"):
        load_specs({"source": folder, "split": "validation"})


def test_formats_and_splits_are_checked(tmp_path):
    path = write_json(tmp_path / "rows.json", ROWS)
    with pytest.raises(ValueError, match="unknown data format 'xml'; available: auto, json, jsonl, parquet, hub"):
        load_specs({"source": path, "format": "xml"})
    with pytest.raises(ValueError, match="split is for hub datasets only"):
        load_specs({"source": path, "split": "test"})
    (tmp_path / "rows.txt").write_text("[]")
    with pytest.raises(DataError, match="cannot tell the format"):
        load_specs(tmp_path / "rows.txt")
    (tmp_path / "obj.json").write_text('{"prompt": "x"}')
    with pytest.raises(DataError, match="expected a JSON list of row objects"):
        load_specs(tmp_path / "obj.json")


def test_a_missing_file_is_named_with_a_hint_about_rlvr_data(tmp_path, monkeypatch):
    monkeypatch.delenv("RLVR_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match=r"nowhere\.json"):
        load_specs(tmp_path / "nowhere.json")
    with pytest.raises(FileNotFoundError, match="RLVR_DATA is not set"):
        load_specs("data/train/deepscaler_level1.json")
    monkeypatch.setenv("RLVR_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=re.escape(f"RLVR_DATA={tmp_path} has no train/x.json")):
        load_specs(tmp_path / "train" / "x.json")
    (tmp_path / "train").mkdir()
    write_json(tmp_path / "train" / "x.json", ROWS)
    with pytest.raises(FileNotFoundError, match=re.escape(f"did you mean {tmp_path / 'train' / 'x.json'}")):
        load_specs("elsewhere/train/x.json")


# ---------------------------------------------------------------------------------------------------
# Columns


def test_default_columns_and_field_mapping(tmp_path):
    questions = write_json(tmp_path / "q.json", [{"question": "Q?", "answer": "1", "unique_id": "u1"}])
    assert load_specs(questions).problems == [Problem("u1", "Q?", "1")]
    custom = write_json(tmp_path / "custom.json", [{"text": "Q?", "gold": 3, "key": 9, "answer": "label"}])
    mapped = load_specs({"source": custom, "fields": {"problem": "text", "answer": "gold", "id": "key"}})
    assert mapped.problems == [Problem("9", "Q?", "3")]
    solutions = write_json(tmp_path / "sol.json", [{"problem": "P", "solution": r"\boxed{1} no, \boxed{\frac{1}{2}}."}])
    assert load_specs(solutions).problems == [Problem("0", "P", r"\frac{1}{2}")]  # the last box; nested braces kept
    both = write_json(tmp_path / "both.json", [{"problem": "P", "answer": "A", "solution": r"\boxed{S}"}])
    assert load_specs(both).problems[0].answer == "A"  # an answer column wins over a solution ...
    asked = load_specs({"source": both, "fields": {"solution": "solution"}})
    assert asked.problems[0].answer == "S"  # ... unless asked
    with pytest.raises(ValueError, match="name one"):
        load_specs({"source": both, "fields": {"answer": "answer", "solution": "solution"}})
    with pytest.raises(ValueError, match="unknown field.*'gold_answer'.*available: problem, answer, id, solution, options"):
        load_specs({"source": both, "fields": {"gold_answer": "answer"}})


def test_a_missing_column_names_the_column_the_file_and_its_columns(tmp_path):
    path = write_json(tmp_path / "rows.json", ROWS)
    expected = f"column 'gold' (fields.answer) is not in {path}; its columns are: id, prompt, answer"
    with pytest.raises(DataError, match=re.escape(expected)):
        load_specs({"source": path, "fields": {"answer": "gold"}})
    no_problem = write_json(tmp_path / "np.json", [{"text": "x", "answer": "1"}])
    with pytest.raises(DataError, match="no problem column.*problem, prompt, question.*its columns are: text, answer"):
        load_specs(no_problem)
    no_answer = write_json(tmp_path / "na.json", [{"prompt": "x"}])
    with pytest.raises(DataError, match="neither an answer nor a solution column"):
        load_specs(no_answer)


# ---------------------------------------------------------------------------------------------------
# Bad rows, ids, limits


BAD_ROWS = [
    {"id": 10, "prompt": "fine", "answer": "1"},
    {"id": 11, "prompt": "no label", "answer": ""},  # what a majority vote with no boxed sample leaves
    {"id": 12, "prompt": "null label", "answer": None},
    {"id": 13, "prompt": "   ", "answer": "2"},
    {"id": 14, "prompt": "fine too", "answer": 0},  # zero is an answer, not a missing one
    {"id": 15, "answer": "3"},
]


def test_a_bad_row_is_an_error_naming_file_row_and_id(tmp_path):
    path = write_json(tmp_path / "labels.json", BAD_ROWS)
    with pytest.raises(DataError, match=re.escape(f"{path} row 1 (id '11'): empty answer; pass on_bad_row='skip'")):
        load_specs(path)
    with pytest.raises(DataError, match=r"row 0 \(id '12'\): missing answer"):
        load_specs(write_json(tmp_path / "null.json", BAD_ROWS[2:3]))
    with pytest.raises(DataError, match=r"row 1 \(id '15'\): missing problem"):  # a row without the key
        load_specs(write_json(tmp_path / "noprob.json", BAD_ROWS[4:]))
    no_box = write_json(tmp_path / "nobox.json", [{"problem": "P", "solution": "I think it is 4."}])
    with pytest.raises(DataError, match=r"row 0 \(id '0'\): missing answer \(the last \\boxed\{\} of the solution\)"):
        load_specs(no_box)
    with pytest.raises(ValueError, match="unknown on_bad_row 'ignore'; available: error, skip"):
        load_specs(path, on_bad_row="ignore")


def test_skipping_bad_rows_counts_them_and_warns_once_per_file(tmp_path, caplog):
    path = write_json(tmp_path / "labels.json", BAD_ROWS)
    with caplog.at_level(logging.WARNING, logger="rlvr.data.rows"):
        loaded = load_specs(path, on_bad_row="skip")
    assert loaded == ([Problem("10", "fine", "1"), Problem("14", "fine too", "0")], 4)
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "skipped 4 of 6 rows" in message and "labels.json" in message and "row 1 (id '11'): empty answer" in message
    assert all(p.answer.strip() for p in loaded.problems)


def test_limit_keeps_the_first_usable_rows(tmp_path):
    path = write_json(tmp_path / "labels.json", BAD_ROWS)
    assert [p.id for p in load_specs(path, on_bad_row="skip", limit=2).problems] == ["10", "14"]
    assert load_specs(path, limit=1).problems == [Problem("10", "fine", "1")]  # row 1 is never read
    with pytest.raises(ValueError, match="limit must be >= 1"):
        load_specs(path, limit=0)


def test_duplicate_ids_name_both_rows(tmp_path):
    rows = [{"id": 1, "prompt": "x", "answer": "1"}, {"id": "1", "prompt": "y", "answer": "2"}]  # 1 and "1": one id
    path = write_json(tmp_path / "dup.json", rows)
    with pytest.raises(DataError, match=re.escape(f"duplicate id '1': {path} row 0 and {path} row 1")):
        load_specs(path)


def test_several_files_prefix_ids_with_the_file_stem(tmp_path):
    rows = [{"id": "0", "prompt": "x", "answer": "1"}, {"id": "1", "prompt": "y", "answer": "2"}]
    first, second = write_json(tmp_path / "level1.json", rows), write_json(tmp_path / "level2.json", rows)
    ids = [p.id for p in load_specs([first, second]).problems]
    assert ids == ["level1/0", "level1/1", "level2/0", "level2/1"]
    assert [p.id for p in load_specs([first]).problems] == ["0", "1"]  # one file: ids as written
    for folder in ("A", "B"):  # the paper's layout: DeepScaleR_Difficulty_Level_<n>/train.json
        (tmp_path / folder).mkdir()
    same_stem = [write_json(tmp_path / folder / "train.json", rows) for folder in ("A", "B")]
    assert [p.id for p in load_specs(same_stem).problems] == ["A/train/0", "A/train/1", "B/train/0", "B/train/1"]


# ---------------------------------------------------------------------------------------------------
# Problem sets from config


def test_problem_set_is_backwards_compatible():
    data = ProblemSet("x", (Problem("1", "p", "a"),), ())
    assert data.skipped == 0 and data == ProblemSet(name="x", train=(Problem("1", "p", "a"),), heldout=(), skipped=0)
    with pytest.raises(ValueError, match="skipped must be >= 0"):
        ProblemSet("x", (Problem("1", "p", "a"),), (), skipped=-1)


def test_load_problem_set_from_a_config_node(tmp_path):
    train = [write_json(tmp_path / f"level{i}.json", BAD_ROWS) for i in (1, 2)]
    held = write_json(tmp_path / "held.jsonl", [])
    held.write_text(json.dumps({"problem": "h", "answer": 5, "unique_id": "h1"}) + "\n")
    node = OmegaConf.create({
        "_target_": "rlvr.data.load_problem_set",
        "name": "toy",
        "train": {"source": [str(p) for p in train]},
        "heldout": {"source": str(held)},
        "on_bad_row": "skip",
    })
    data = instantiate(node)  # Hydra passes DictConfig / ListConfig values
    assert data.name == "toy" and data.skipped == 8
    assert [p.id for p in data.train] == ["level1/10", "level1/14", "level2/10", "level2/14"]
    assert data.heldout == (Problem("h1", "h", "5"),)
    # a list of specs is one concatenated list; a bare path is a spec
    data = load_problem_set(name="toy", train=[{"source": str(train[0])}, str(train[1])], on_bad_row="skip",
                            max_train=3)
    assert [p.id for p in data.train] == ["level1/10", "level1/14", "level2/10"] and data.heldout == ()
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'path'.*available: source, split, format, fields"):
        load_problem_set(name="toy", train={"path": str(train[0])})
    with pytest.raises(DataError, match="row 1"):
        load_problem_set(name="toy", train={"source": str(train[0])})  # on_bad_row defaults to error


def test_one_shot_repeats_one_problem_of_the_data_or_of_a_source(tmp_path):
    rows = [{"id": "0", "prompt": "x", "answer": "1"}, {"id": "1", "prompt": "y", "answer": "2"}]
    first, second = write_json(tmp_path / "level1.json", rows), write_json(tmp_path / "level2.json", rows)
    data = load_problem_set(name="toy", train={"source": [str(first), str(second)]}, heldout={"source": str(first)})
    shot = one_shot(data, row_id="level2/1", copies=2)
    assert shot.name == "toy/one_shot:level2/1" and shot.heldout == data.heldout
    assert shot.train == (Problem("level2/1#0", "y", "2"), Problem("level2/1#1", "y", "2"))
    # from a source of its own (one_shot_example.source), keeping the data's held-out problems
    from_source = one_shot(data, source={"source": str(second)}, row_id=1, copies=1)
    assert from_source.train == (Problem("1#0", "y", "2"),) and from_source.heldout == data.heldout
    with pytest.raises(DataError, match="ambiguous: it matches level1/1, level2/1"):
        one_shot(data, row_id="1", copies=1)


def test_write_problems_json_round_trips(tmp_path):
    path = write_problems_json(tmp_path / "out" / "p.json", EXPECTED)
    assert load_specs(path).problems == EXPECTED
    assert json.loads(path.read_text())[0] == {"id": "a", "prompt": "1+6", "answer": "7"}
    choice = [Problem("m", "Which?", "B", options=(("A", "3"), ("B", "5"))), *EXPECTED]
    assert load_specs(write_problems_json(tmp_path / "mc.json", choice)).problems == choice


@pytest.mark.parametrize("module", [sources, rows, loaders])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------------------------
# The real files


@pytest.fixture(scope="module")
def deepscaler():
    return load_specs(LEVELS)


@needs_data
def test_deepscaler_levels_load_together(deepscaler):
    problems, skipped = deepscaler
    assert len(problems) == 39_808 and skipped == 0  # README: 39,808 together
    assert len({p.id for p in problems}) == len(problems)
    assert problems[0].id == "deepscaler_level1/0" and problems[-1].id.startswith("deepscaler_level5/")


@needs_data
def test_one_shot_is_the_wind_pressure_problem_repeated(deepscaler):
    base = load_problem_set(name="level4", train={"source": str(DATA / "train" / "deepscaler_level4.json")})
    data = one_shot(base, row_id=7395, copies=4)  # YAML `row_id: 7395` is an int
    assert [p.id for p in data.train] == ["7395#0", "7395#1", "7395#2", "7395#3"]
    assert {p.answer for p in data.train} == {"12.8"}
    assert "pressure" in data.train[0].problem and "sail" in data.train[0].problem
    assert data.heldout == base.heldout
    # with every level loaded, the bare id is ambiguous and the prefixed one is not
    everything = ProblemSet("all", tuple(deepscaler.problems), ())
    assert one_shot(everything, row_id="deepscaler_level4/7395", copies=1).train[0].problem == data.train[0].problem
    with pytest.raises(DataError, match="ambiguous: it matches deepscaler_level1/7395, .*deepscaler_level4/7395"):
        one_shot(everything, row_id="7395", copies=2)
    with pytest.raises(DataError, match="no problem has id 'deepscaler_level4/73950'; close ids: .*level4/7395,"):
        one_shot(everything, row_id="deepscaler_level4/73950", copies=2)
    with pytest.raises(ValueError, match="copies must be >= 1"):
        one_shot(base, row_id="7395", copies=0)


@needs_data
@pytest.mark.parametrize(
    "name,rows", [("math500.json", 500), ("math500_with_subject_level.jsonl", 500), ("amc.json", 83), ("aime24.json", 30), ("aime25.json", 30)]
)
def test_eval_sets_load_with_the_default_field_rules(name, rows):
    problems = load_specs(DATA / "eval" / name).problems
    assert len(problems) == rows and len({p.id for p in problems}) == rows
    assert all(p.problem.strip() and p.answer.strip() for p in problems)
    if name == "aime25.json":
        assert any(p.answer.startswith("0") for p in problems)  # zero padded as written ("070"): the grader's job
    if name.endswith(".jsonl"):
        assert problems[0].id.startswith("test/")  # unique_id column, the same ids as math500.json


@needs_data
def test_the_data_configs_of_the_paper_load_offline():
    from hydra.utils import instantiate

    from conftest import compose_config

    data = instantiate(compose_config("model=qwen2.5_math_7b", "data=deepscaler_levels").data)
    assert (len(data.train), len(data.heldout)) == (39_808, 500)


# ---------------------------------------------------------------------------------------------------
# Broken files: each one an error that names the file and where in it


def test_a_truncated_json_file_names_the_row_it_broke_in(tmp_path):
    # rows 0 and 1 parse; the file ends inside row 2's prompt. "[" + row 0 (43 characters) + ", " is 46
    # characters, row 1 (41) + ", " brings it to 89, and row 2's '{"id": "c", "prompt": ' (22) puts the quote
    # that opens its prompt at char 111, column 112
    path = tmp_path / "cut.json"
    path.write_text('[{"id": "a", "prompt": "1+1", "answer": "2"}, {"id": "b", "prompt": "2", "answer": "3"}, '
                    '{"id": "c", "prompt": "2+')  # fmt: skip
    expected = f"{path} is not valid JSON in row 2: Unterminated string starting at: line 1 column 112 (char 111)"
    with pytest.raises(DataError, match=re.escape(expected)):
        load_specs(path)


def test_a_truncated_jsonl_file_names_its_line(tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_text('{"id": "a", "prompt": "1+1", "answer": "2"}\n\n{"id": "b", "prompt": "2+')
    with pytest.raises(DataError, match=re.escape(f"{path} line 3 is not valid JSON: Unterminated string")):
        load_specs(path)


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_bytes_that_are_not_utf8_name_line_column_and_row(tmp_path, suffix):
    # "café" written in Latin-1: é is the byte 0xe9, the 28th character of line 2 (` {"id": "b", "prompt": "caf`)
    rows = ['{"id": "a", "prompt": "1+1", "answer": "2"}', ' {"id": "b", "prompt": "caf\xe9", "answer": "2"}']
    path = tmp_path / f"latin1{suffix}"
    text = f"[{rows[0]},\n{rows[1]}]" if suffix == ".json" else "\n".join(rows)
    path.write_bytes(text.encode("latin-1"))
    row = " (in row 1)" if suffix == ".json" else ""
    with pytest.raises(DataError, match=re.escape(f"{path} is not UTF-8 text: byte 0xe9 at line 2 column 28{row}")):
        load_specs(path)


@pytest.mark.parametrize(
    "row, fault",
    [
        ({"id": "q", "prompt": ["1+1"], "answer": "2"}, "row 1 (id 'q'): problem is a list, not text or a number"),
        ({"id": "q", "prompt": "1+1", "answer": {"value": 2}}, "row 1 (id 'q'): answer is a dict, not text or a number"),
        ({"id": ["q"], "prompt": "1+1", "answer": "2"}, "row 1: id is a list, not text or a number"),
        # the escape \ud800 alone: Python reads it as a lone surrogate, which no tokenizer can encode
        ({"id": "q", "prompt": "x\ud800y", "answer": "2"}, "row 1 (id 'q'): problem is not valid Unicode: a lone surrogate at character 1"),
    ],
)  # fmt: skip
def test_a_cell_of_the_wrong_type_or_not_unicode_is_a_bad_row(tmp_path, row, fault):
    path = write_json(tmp_path / "typed.json", [{"id": "ok", "prompt": "1+6", "answer": "7"}, row])
    with pytest.raises(DataError, match=re.escape(f"{path} {fault}; pass on_bad_row='skip'")):
        load_specs(path)
    assert load_specs(path, on_bad_row="skip") == ([Problem("ok", "1+6", "7")], 1)


def test_a_json_list_of_something_else_than_rows_names_the_item(tmp_path):
    path = write_json(tmp_path / "list.json", [{"id": "a", "prompt": "x", "answer": "1"}, "just a string"])
    with pytest.raises(DataError, match=re.escape(f"{path} row 1: expected a JSON object, got str: just a string")):
        load_specs(path)


def test_a_parquet_file_without_an_answer_column_or_cut_short_is_named(tmp_path):
    missing = write_parquet(tmp_path / "noanswer.parquet", [{"id": "a", "prompt": "x"}])
    with pytest.raises(DataError, match=re.escape(f"{missing} has neither an answer nor a solution column; its columns are: id, prompt")):
        load_specs(missing)
    with pytest.raises(DataError, match=re.escape(f"column 'gold' (fields.answer) is not in {missing}")):
        load_specs({"source": missing, "fields": {"answer": "gold"}})
    whole = write_parquet(tmp_path / "whole.parquet", [{"id": "a", "prompt": "x", "answer": "1"}] * 50).read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=re.escape(f"{cut} is not a readable parquet file")):
        load_specs(cut)


def test_duplicate_ids_across_parquet_rows_name_both_rows(tmp_path):
    path = write_parquet(tmp_path / "dup.parquet", [{"id": "7", "prompt": "x", "answer": "1"}] * 2)
    with pytest.raises(DataError, match=re.escape(f"duplicate id '7': {path} row 0 and {path} row 1")):
        load_specs(path)


def test_multiple_choice_options_load_from_a_mapping_or_a_list(tmp_path):
    mapping = write_json(tmp_path / "mc.json", [
        {"id": "m", "problem": "Which?", "answer": "B", "options": {"A": "3", "(b)": r"\frac{1}{2}"}},
        {"id": "n", "problem": "How many?", "answer": "7"},  # a row without options in the same file
    ])  # fmt: skip
    first, second = load_specs(mapping).problems
    assert first.options == (("A", "3"), ("B", r"\frac{1}{2}")) and first.option_map == {"A": "3", "B": r"\frac{1}{2}"}
    assert second.options == () and second.option_map is None
    listed = write_parquet(tmp_path / "mc.parquet", [{"id": "p", "problem": "Which?", "answer": "(C)", "choices": ["1", "2", "4"]}])
    assert load_specs(listed).problems[0].option_map == {"A": "1", "B": "2", "C": "4"}
    renamed = write_json(tmp_path / "renamed.json", [{"problem": "Which?", "answer": "A", "opts": ["x", "y"]}])
    assert load_specs({"source": renamed, "fields": {"options": "opts"}}).problems[0].option_map == {"A": "x", "B": "y"}


@pytest.mark.parametrize(
    "options, answer, fault",
    [
        ({"A": "3", "B": "5"}, "E", "answer 'E' names no option (options: A, B)"),
        ("A) 3  B) 5", "A", "options is a str, not a mapping of letters to options or a list"),
        ({"AB": "3"}, "A", "options has a key 'AB' that is not one letter"),
        (["3", ""], "A", "option B is empty"),
        ([["3"], "5"], "A", "option A is a list, not text or a number"),
    ],
)
def test_bad_options_are_a_bad_row_naming_file_row_and_fault(tmp_path, options, answer, fault):
    path = write_json(tmp_path / "mc.json", [{"id": "q", "problem": "Which?", "answer": answer, "options": options}])
    with pytest.raises(DataError, match=re.escape(f"{path} row 0 (id 'q'): {fault}")):
        load_specs(path)
