r"""Pure string helpers that read a model response: its final boxed answer and whether it reasons in code.

Nothing here imports math-verify, so these run in the trainer process at no cost; only the symbolic
comparison of an extracted answer with the gold one is sent to the grader's worker processes.
"""

from __future__ import annotations

import re

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
    opens = list(_BOXED_OPEN.finditer(text))
    if not opens:
        return None
    start = opens[-1].end()
    end = _closing_brace(text, start)
    return None if end is None else text[start:end]


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


def is_code_reasoning(text: str) -> bool:
    """The paper's rule for "code reasoning": the response mentions python, in any case.

    >>> is_code_reasoning("```python\\nprint(2 + 3)\\n```"), is_code_reasoning("By Vieta's formulas")
    (True, False)
    """
    return "python" in text.lower()
