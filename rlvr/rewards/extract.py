r"""Pure string helpers that read a model response: its final answer and whether it reasons in code.

Where the final answer is depends on how the model was prompted, its *answer format*
(``ANSWER_FORMATS``; a prompt names one, ``rlvr.config.PromptFormat.answer_format``):

- ``boxed``: chat and Qwen-Math prompts ask for ``\boxed{}``; the answer is the content of the last box.
- ``answer_tag``: base models without a chat template get the R1-style prompt ("... <think> reasoning
  process here </think> <answer> answer here </answer>") and stop at ``</answer>``, which is kept in
  the output. As the paper's training reads them (``qwen_math_parser.py: extract_answer`` with
  ``is_r1_style=True``): the text after the last ``<answer>`` (the whole response if there is none),
  read by ``answer_rules``: its last box, else what follows "the answer is", else its last number.
- ``answer_tag_strict``: only a closed ``<answer>...</answer>`` span gives an answer: its last
  ``\boxed{}`` if it has one, else its stripped text.
- ``answer_rules``: ``answer_rules`` on the whole response, which is how the paper's evaluation
  (``scripts/eval_checkpoint.py``, verify task ``math``) grades base models prompted with the R1 template:
  the answer format evaluation grades an ``answer_tag`` prompt with (``evaluation_format``).

The format reward checks a reading of its own (``format_answer``), the paper's "box only" one.

Nothing here imports math-verify, so these run in the trainer process at no cost; only the symbolic
comparison of an extracted answer with the gold one is sent to the grader's worker processes.
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

from rlvr.registry import Registry

# `\boxed{..}`, `\boxed {..}` and `\fbox{..}`; the opening brace is part of the match so that the
# balanced-brace scan starts right after it. `\boxed 5` (no braces) is legal LaTeX but Qwen-Math
# does not write it, so it is not matched.
_BOXED_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")


def has_boxed(text: str) -> bool:
    r"""Whether the response opens a ``\boxed{`` at all, complete or not.

    >>> has_boxed(r"so \boxed{12"), has_boxed("The answer is 12")
    (True, False)
    """
    return _BOXED_OPEN.search(text) is not None


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (or ``\fbox{...}``), nested braces kept.

    ``None`` when there is no box or the last one never closes: a response cut at the length limit
    has not given its final answer, even if an earlier box did.
    Escaped braces (``\{``, ``\}``) are content, not structure, so sets such as ``\{1, 2\}`` and a
    one-sided ``\left\{ ... \right.`` do not confuse the scan.

    >>> last_boxed(r"so the answer is \boxed{\frac{1}{2}}.")
    '\\frac{1}{2}'
    >>> last_boxed(r"\boxed{1} then \boxed {\{1, 2\}}")
    '\\{1, 2\\}'
    >>> last_boxed(r"\boxed{3} ... \boxed{12") is None  # truncated
    True
    >>> last_boxed("The answer is 5") is None
    True
    """
    bounds = last_box_bounds(text)
    return None if bounds is None else text[bounds.content_start : bounds.end - 1]


class BoxBounds(NamedTuple):
    start: int  # where `\boxed` starts
    content_start: int  # just after its opening brace
    end: int  # just after its closing brace


def last_box_bounds(text: str) -> BoxBounds | None:
    r"""Where the last ``\boxed{...}`` is in ``text``; None when ``last_boxed`` is.

    >>> last_box_bounds(r"so $\boxed{12}$.")
    BoxBounds(start=4, content_start=11, end=14)
    """
    opens = list(_BOXED_OPEN.finditer(text))
    if not opens:
        return None
    start = opens[-1].end()
    end = _closing_brace(text, start)
    return None if end is None else BoxBounds(opens[-1].start(), start, end + 1)


def _closing_brace(text: str, start: int) -> int | None:
    """Index of the brace that closes the group opened just before ``start``; None if it never closes."""
    depth = 1
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2  # a command or an escaped character, e.g. `\{` or `\\`: never a group brace
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"


def last_answer_span(text: str) -> str | None:
    """Text between the last ``<answer>`` and the ``</answer>`` that closes it, unstripped.

    ``None`` when there is no such span, or when the last ``<answer>`` opens after the last
    ``</answer>``: that answer was cut at the length limit, even if an earlier one closed (as for boxes).

    >>> last_answer_span("<think>2 * 6.4</think> <answer> 12.8 </answer>")
    ' 12.8 '
    >>> last_answer_span("<answer>1</answer> wait, <answer>2") is None  # truncated
    True
    >>> last_answer_span("<answer>12.8") is None, last_answer_span("12.8") is None
    (True, True)
    """
    close = text.rfind(_ANSWER_CLOSE)
    if close < 0 or text.rfind(_ANSWER_OPEN) > close:
        return None
    open_ = text.rfind(_ANSWER_OPEN, 0, close)
    return None if open_ < 0 else text[open_ + len(_ANSWER_OPEN) : close]


def after_answer_tag(text: str) -> str:
    """The text after the last ``<answer>`` (all of it if there is none), less a ``</answer>`` that ends it.

    Follows ``qwen_math_parser.py: extract_answer`` with ``is_r1_style=True``
    (``pred_str.split("<answer>")[-1].rstrip("</answer>")``).

    Differs from the official code: ``str.rstrip`` takes a set of characters, so the official code also
    strips the letters a, e, n, r, s, w (and ``<``, ``/``, ``>``) that end an answer: ``<answer>n</answer>``
    gives nothing there, ``even`` gives ``ev``. Here only the closing tag is removed.

    >>> after_answer_tag("<think>64 / 5</think> <answer>12.8</answer>"), after_answer_tag("64 / 5 = 12.8")
    ('12.8', '64 / 5 = 12.8')
    >>> after_answer_tag("<answer>1</answer> no: <answer>n</answer>"), after_answer_tag("<answer>12")
    ('n', '12')
    """
    return text.rpartition(_ANSWER_OPEN)[2].removesuffix(_ANSWER_CLOSE)


def box_content(text: str) -> str | None:
    r"""What the last ``boxed`` in ``text`` holds, as the paper's code reads a box; None if ``boxed`` never occurs.

    After ``boxed{``: up to the brace that closes it, or to the end if none does (a box cut at the length
    limit gives what it holds so far). After ``boxed`` without a brace (``\boxed 5``): up to the next ``$``,
    stripped. Any ``boxed`` counts, ``\boxed`` or not; ``\fbox`` does not. Follows
    ``qwen_math_parser.py: extract_answer`` (its ``"boxed" in pred_str`` branch) and ``extract_answer_box_only``.

    Differs from the official code: escaped braces (``\{``, ``\}``) are content, as in ``last_boxed``, so
    ``\boxed{\left\{ x \right.}`` closes at its last brace (the official scan reads it to the end).

    >>> box_content(r"so \boxed{\frac{1}{2}} and more"), box_content(r"$\boxed 5$ km"), box_content(r"\boxed{12")
    ('\\frac{1}{2}', '5', '12')
    >>> box_content("no box") is None, box_content(r"\boxed{3} then \boxed{")
    (True, '')
    """
    _, found, rest = text.rpartition("boxed")
    if not found:
        return None
    if rest.startswith("{"):
        end = _closing_brace(rest, 1)
        return rest[1:] if end is None else rest[1:end]
    return rest.split("$")[0].strip()


_LAST_NUMBER = re.compile(r"-?\d*\.?\d+")
_MINERVA_OPEN, _MINERVA_CLOSE = "final answer is $", "$. I hope"


def answer_by_rules(text: str) -> str | None:
    r"""The final answer as the paper's code reads it (Qwen2.5-Math's parser), or None if it finds none.

    The first rule that applies to ``text``: Minerva's "final answer is $...$. I hope"; the last box
    (``box_content``, complete or not); what follows the last "he answer is" ("The answer is", "the
    answer is"), else the last "final answer is", to the end of the text; what follows the first "答案是",
    up to the next one or a blank line; else the last number (commas dropped: ``10,080`` is 10080, and
    ``\frac{14}{3}`` gives 3). Then line breaks with the spaces after them are removed, and a leading ":"
    and trailing "." and "/" dropped. Follows ``qwen_math_parser.py: extract_answer`` for the ``math``
    task (with ``use_last_number``).

    Differs from the official code: the answer is not then rewritten by Qwen-Math's ``strip_string`` (units,
    ``\text{}``, spaces, word numbers, ...): the grader compares it with the gold answer its own way.

    >>> answer_by_rules(r"so $\boxed{\frac{1}{2}}$."), answer_by_rules("The answer is: 12.8."), answer_by_rules("1,200")
    ('\\frac{1}{2}', '12.8', '1200')
    >>> answer_by_rules(r"\frac{14}{3}"), answer_by_rules("I do not know") is None
    ('3', True)
    """
    return _tidy(_read_by_rules(text)[1])


_BY_LAST_NUMBER = "last number"


def _read_by_rules(text: str) -> tuple[str, str]:
    """The rule of ``answer_by_rules`` that applies to ``text``, and what it reads (not yet tidied)."""
    text = text.replace("\u043a\u0438", "")  # "ки", Math-Shepherd's step tag: the official code drops it
    box = box_content(text)
    if _MINERVA_OPEN in text and _MINERVA_CLOSE in text:
        return "minerva", text.split(_MINERVA_OPEN, 1)[1].split(_MINERVA_CLOSE, 1)[0].strip()
    if box is not None:
        return "box", box
    if "he answer is" in text:
        return "the answer is", text.rpartition("he answer is")[2].strip()
    if "final answer is" in text:
        return "final answer is", text.rpartition("final answer is")[2].strip()
    if "答案是" in text:
        return "答案是", text.split("答案是")[1].strip().split("\n\n")[0].strip()  # up to the next 答案是, as there
    numbers = _LAST_NUMBER.findall(text.replace(",", ""))
    return _BY_LAST_NUMBER, numbers[-1] if numbers else ""


def reads_last_number(text: str) -> bool:
    """Whether ``answer_by_rules`` finds its answer by the last-number rule, the one that applies when
    nothing says which text is the answer.

    >>> reads_last_number("so x = 4. But wait"), reads_last_number("The answer is 4"), reads_last_number("no idea")
    (True, False, False)
    """
    rule, pred = _read_by_rules(text)
    return rule == _BY_LAST_NUMBER and _tidy(pred) is not None


def _tidy(pred: str) -> str | None:
    """The official clean-up of an extracted answer (line breaks, a leading ":", trailing "." and "/"); None: blank."""
    pred = re.sub(r"\n\s*", "", pred).removeprefix(":").removesuffix(".").removesuffix("/")
    return pred.strip().rstrip(".").strip() or None  # strip_string's first steps: strip, then drop trailing dots


# answer format -> (response -> its final answer, or None when it gives none)
ANSWER_FORMATS: Registry[Callable[[str], str | None]] = Registry("answer format")


@ANSWER_FORMATS.register("boxed", version=1)
def boxed_answer(text: str) -> str | None:
    r"""The content of the last ``\boxed{}``; None without one, or if the last one never closes."""
    return last_boxed(text)


@ANSWER_FORMATS.register("answer_tag", version=2)
def tagged_answer(text: str) -> str | None:
    r"""``answer_by_rules`` on the text after the last ``<answer>`` (the whole response without one).

    The paper's training reward for the R1 template (verify task ``math_r1_style``): a bare answer in the
    span is read by its last number, so ``<answer>\frac{14}{3}</answer>`` gives 3, and a response cut
    before ``</answer>`` (or without tags) still gives an answer. Version 1 was ``answer_tag_strict``.

    >>> tagged_answer(r"<think>...</think> <answer>\boxed{12.8}</answer>"), tagged_answer("<answer> 12.8 </answer>")
    ('12.8', '12.8')
    >>> tagged_answer(r"<answer>\frac{14}{3}</answer>"), tagged_answer(r"no tags, so \boxed{12")
    ('3', '12')
    """
    return answer_by_rules(after_answer_tag(text))


@ANSWER_FORMATS.register("answer_tag_strict", version=1)
def strict_tagged_answer(text: str) -> str | None:
    r"""The last ``<answer>...</answer>`` span's last ``\boxed{}``, or its stripped text if it has no box.

    None without a closed span; a span whose box never closes gives no answer, as a truncated box does
    in the ``boxed`` format. Stricter than the paper's code (``answer_tag``).

    >>> strict_tagged_answer(r"<answer>\boxed{12.8}</answer>"), strict_tagged_answer(r"<answer>\frac{14}{3}</answer>")
    ('12.8', '\\frac{14}{3}')
    >>> strict_tagged_answer(r"<answer>\boxed{12</answer>") is None, strict_tagged_answer(r"so \boxed{12.8}") is None
    (True, True)
    """
    span = last_answer_span(text)
    if span is None:
        return None
    boxed = last_boxed(span)
    if boxed is not None or has_boxed(span):
        return boxed
    return span.strip()


ANSWER_FORMATS.register("answer_rules", version=1)(answer_by_rules)


def box_only_answer(text: str) -> str | None:
    r"""The format reward's reading of a ``boxed`` response: the last box's content (``box_content``, complete
    or not), tidied; None without a box or if it is blank. Follows ``qwen_math_parser.py: extract_answer_box_only``.

    Differs from the official code: a blank box is one that holds only spaces, dots and dollar signs;
    Qwen-Math's ``strip_string`` also blanks a few more (``\boxed{\text{ }}``, ``\boxed{km}``).
    """
    content = box_content(text)
    return None if content is None or not _tidy(content.replace("$", "")) else _tidy(content)


def _nonempty_after_answer_tag(text: str) -> str | None:
    return after_answer_tag(text) or None


def _nonblank_strict_answer(text: str) -> str | None:
    return (strict_tagged_answer(text) or "").strip() or None


# answer format -> what the format reward checks in it (not None: formatted). The paper's format reward is
# `box_only_format`; for the R1 template (`_r1_style`) its reading is the raw text after the last <answer>,
# so any response with text there, spaces included, is formatted.
_FORMAT_READINGS: dict[str, Callable[[str], str | None]] = {
    "boxed": box_only_answer,
    "answer_tag": _nonempty_after_answer_tag,
    "answer_tag_strict": _nonblank_strict_answer,  # a closed, non-blank span
    "answer_rules": box_only_answer,
}

# answer format -> the one evaluation grades with, where they differ: the paper's evaluation script grades
# base models prompted with the R1 template on the whole response (verify task `math`, not `math_r1_style`).
EVALUATION_FORMATS: dict[str, str] = {"answer_tag": "answer_rules"}


def _answers_whole_response(text: str) -> bool:
    return not has_boxed(text) and bool(text.strip())  # the grader hands it whole to math-verify


def _answers_last_number_after_tag(text: str) -> bool:
    return reads_last_number(after_answer_tag(text))


def _never(text: str) -> bool:
    return False


# answer format -> whether a response's answer would come from a fallback, text that nothing in the
# response marks as its answer: in `boxed`, a response without a box, handed whole to math-verify (which
# reads its last expression); in the paper's rules, the last number. The grader gives a response cut at
# the length limit no credit from them (`rlvr.rewards.grader.read_response`).
_FALLBACK_READINGS: dict[str, Callable[[str], bool]] = {
    "boxed": _answers_whole_response,
    "answer_tag": _answers_last_number_after_tag,
    "answer_tag_strict": _never,  # a closed span or nothing
    "answer_rules": reads_last_number,
}


def answers_by_fallback(response: str, answer_format: str = "boxed") -> bool:
    r"""Whether the response's answer in ``answer_format`` comes from a fallback (see ``_FALLBACK_READINGS``).

    >>> answers_by_fallback("so x = 4. But wait"), answers_by_fallback(r"so \boxed{4}"), answers_by_fallback("")
    (True, False, False)
    >>> answers_by_fallback("<answer>x = 4. But", "answer_tag")
    True
    >>> answers_by_fallback("<answer>the answer is 4", "answer_tag")  # "the answer is" marks it
    False
    """
    ANSWER_FORMATS.entry(answer_format)  # did-you-mean error
    return _FALLBACK_READINGS[answer_format](response)


# An option letter: "option (C)", "choice C", or a parenthesised capital that is no function's argument ("P(A)").
_OPTION_LETTER = re.compile(r"\b(?:option|choice)\s*\(?([A-H])\)?(?![\w)])|(?<![\w)}\\])\(([A-H])\)")
_NEGATION = re.compile(r"\b(?:not|isn't|rather than|instead of|except)\b", re.IGNORECASE)
_SENTENCE_BREAK = re.compile(r"\n|(?<=[.!?])\s")
_NEAR_BOX_CHARS = 120


def option_named_at_box(text: str) -> str | None:
    r"""The one option letter a response names next to its last box, in the same sentence: after it
    ("$\boxed{\text{Plane}}$, which is option (C).") or before it ("(C) $\boxed{\text{Plane}}$"); None
    when it names none, more than one, or the sentence says "not".

    For a multiple-choice answer boxed as the option's content: where the problem's options are not at
    hand, the letter next to the box is what says which option the content is.

    >>> option_named_at_box(r"so $\boxed{\text{Plane}}$, which is option (C)."), option_named_at_box(r"(B) $\boxed{4}$")
    ('C', 'B')
    >>> option_named_at_box(r"$\boxed{4}$, not (A)."), option_named_at_box(r"(A) or (B): $\boxed{4}$")
    (None, None)
    >>> option_named_at_box(r"$\boxed{P(A)}$") is None  # inside the box, and a probability
    True
    """
    bounds = last_box_bounds(text)
    if bounds is None:
        return None
    before = _SENTENCE_BREAK.split(text[max(0, bounds.start - _NEAR_BOX_CHARS) : bounds.start])[-1]
    after = _SENTENCE_BREAK.split(text[bounds.end : bounds.end + _NEAR_BOX_CHARS])[0]
    if _NEGATION.search(before) or _NEGATION.search(after):
        return None
    letters = {a or b for a, b in _OPTION_LETTER.findall(before + " " + after)}
    return letters.pop() if len(letters) == 1 else None


def extract_answer(response: str, answer_format: str = "boxed") -> str | None:
    r"""The response's final answer in ``answer_format`` (see the module docstring), or None.

    Unknown formats fail with the closest known names.

    >>> extract_answer(r"so \boxed{\frac{1}{2}}."), extract_answer("<answer>0.5</answer>", "answer_tag")
    ('\\frac{1}{2}', '0.5')
    >>> extract_answer("<answer>0.5</answer>", "answer_tags")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    KeyError: "unknown answer format 'answer_tags'; did you mean 'answer_tag', ...? available: answer_rules, ..."
    """
    return ANSWER_FORMATS.get(answer_format)(response)


def format_answer(response: str, answer_format: str = "boxed") -> str | None:
    r"""What the format reward finds in ``response`` in ``answer_format``; None: not formatted.

    >>> format_answer(r"\boxed 5"), format_answer(r"cut in its box: \boxed{12"), format_answer(r"\boxed{ }")
    ('5', '12', None)
    >>> format_answer("<answer>no idea", "answer_tag"), format_answer("<answer>no idea", "answer_tag_strict")
    ('no idea', None)
    """
    ANSWER_FORMATS.entry(answer_format)  # did-you-mean error
    return _FORMAT_READINGS[answer_format](response)


def evaluation_format(answer_format: str) -> str:
    """The answer format evaluation grades a prompt in ``answer_format`` with (``EVALUATION_FORMATS``).

    >>> evaluation_format("answer_tag"), evaluation_format("answer_tag_strict"), evaluation_format("boxed")
    ('answer_rules', 'answer_tag_strict', 'boxed')
    """
    ANSWER_FORMATS.entry(answer_format)  # did-you-mean error
    return EVALUATION_FORMATS.get(answer_format, answer_format)


def is_code_reasoning(text: str) -> bool:
    """The paper's rule for "code reasoning": the response mentions python, in any case.

    >>> is_code_reasoning("```python\\nprint(2 + 3)\\n```"), is_code_reasoning("By Vieta's formulas")
    (True, False)
    """
    return "python" in text.lower()

