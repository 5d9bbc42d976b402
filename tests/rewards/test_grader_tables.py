r"""Grader tables built from real gold answers: MATH-500, AMC ("142.0") and AIME 2025 ("070").

Each gold answer is graded against rewritings of itself that a model might give (all of them equal
to it, so graded correct) and against near misses (other brackets, another order of a tuple, a
digit more, another letter: graded incorrect). Every verdict below is worked out by hand from the
mathematics, never copied from the grader; a comment says why where it is not obvious.

The golds are read from the data folder by problem id, so a table row fails loudly if the data
changes under it. All pairs are graded in one batch on one pool (fast), then checked one per test
(so a failure names the gold and the rewriting).
"""

from __future__ import annotations

import json

import pytest
from conftest import DATA_DIR

from _grading_tables import answer_verdicts_of, pool  # noqa: F401  (pool: a fixture)
from rlvr.rewards.grader import grade_responses, response_task

EVAL = DATA_DIR / "eval"
MISSING = [name for name in ("math500", "amc", "aime25") if not (EVAL / f"{name}.json").is_file()]
if MISSING:
    pytest.skip(f"no {', '.join(MISSING)} data under {EVAL} (RLVR_DATA points elsewhere?)", allow_module_level=True)


def golds(name: str) -> dict[str, str]:
    """Problem id -> gold answer of one benchmark file."""
    return {str(row["id"]): row["answer"] for row in json.loads((EVAL / f"{name}.json").read_text())}


MATH500, AMC, AIME25 = golds("math500"), golds("amc"), golds("aime25")

# problem id: (gold as it is in the file, rewritings graded correct, near misses graded incorrect)
MATH500_TABLE: dict[str, tuple[str, list[str], list[str]]] = {
    # --- integers and decimals
    "test/algebra/722.json": ("9901", ["9901", "9,901", "09901", "9901.0", r"\text{9901}", "n = 9901"], ["9900", "990", "99.01", "99010"]),
    "test/number_theory/598.json": (".0000672", ["0.0000672", r"6.72 \times 10^{-5}", r"\frac{672}{10^7}"], ["0.0000673", "0.000672", "0.0000067"]),
    "test/number_theory/410.json": (".35625", ["0.35625", r"\frac{57}{160}", "0.356250"], ["0.3562", "0.3563", "3.5625", r"\frac{57}{16}"]),
    "test/prealgebra/1558.json": ("1.25", ["1.25", r"\frac{5}{4}", "5/4", r"1\frac{1}{4}", "1.250"], ["1.2", "1.3", "12.5", r"\frac{4}{5}"]),
    "test/algebra/975.json": ("-4", ["-4", "-4.0", "x = -4", r"\frac{-8}{2}"], ["4", "-3", "-40", r"-\frac{1}{4}"]),
    # math-verify alone reads `10\,080` (a thin space between thousands) as 10 + 080 = 90.
    "test/prealgebra/2057.json": ("90", ["90", "90.0", "090", r"\text{90}", r"90 \text{ combinations}"], ["9", "900", r"10\,080", "10,80", "91"]),
    "test/algebra/109.json": ("0", ["0", "0.0", "-0", "x = 0"], ["1", "O", r"\emptyset"]),
    # --- fractions, mixed numbers
    "test/algebra/2584.json": (r"\frac{14}{3}", [r"\frac{14}3", r"\dfrac{14}{3}", r"\tfrac{14}{3}", "14/3", r"4\frac{2}{3}", r"\frac{28}{6}"], [r"\frac{3}{14}", r"\frac{14}{5}", "4.67", "4.6", r"\frac{13}{3}"]),
    "test/algebra/518.json": (r"\frac 34", [r"\frac{3}{4}", r"\dfrac34", "0.75", "3/4", r"75\%"], [r"\frac{4}{3}", "0.7", r"\frac{3}{5}", "34"]),
    "test/algebra/2257.json": (r"\frac9{19}", [r"\frac{9}{19}", r"\dfrac{9}{19}", "9/19", r"\frac{18}{38}"], [r"\frac{19}{9}", r"\frac{9}{17}", "0.47"]),
    "test/prealgebra/1655.json": (r"\dfrac{17}{50}", [r"\frac{17}{50}", "0.34", r"\frac{34}{100}", r"34\%"], [r"\frac{17}{5}", "0.35", "3.4"]),
    "test/geometry/947.json": (r"-\frac{24}{25}", [r"\frac{-24}{25}", r"-\dfrac{24}{25}", "-0.96", "-24/25"], [r"\frac{24}{25}", "0.96", r"-\frac{25}{24}", r"-\frac{7}{25}"]),
    # "Express your answer as a mixed number": the value is what is graded, so 9/5 and 1.8 count.
    "test/geometry/826.json": (r"1\frac{4}{5}", [r"1 \frac{4}{5}", r"1\dfrac{4}{5}", r"\frac{9}{5}", "1.8"], [r"\frac{4}{5}", r"1\frac{5}{4}", r"1\frac{3}{5}", "14/5"]),
    "test/algebra/2470.json": (r"137 \frac{1}{2}", [r"137\frac{1}{2}", r"137\frac12", r"\frac{275}{2}", "137.5"], ["137", r"\frac{137}{2}", r"138 \frac{1}{2}", "1371/2"]),
    # --- roots, pi, symbolic constants
    "test/prealgebra/1302.json": (r"11\sqrt2", [r"11\sqrt{2}", r"11 \sqrt 2", r"\sqrt{242}", r"\frac{22}{\sqrt{2}}"], [r"11\sqrt{3}", r"2\sqrt{11}", r"\sqrt{22}", "11", "15.556"]),
    "test/intermediate_algebra/1797.json": (r"2 \sqrt{5}", [r"2\sqrt{5}", r"2\sqrt5", r"\sqrt{20}", r"\frac{10}{\sqrt{5}}"], [r"\sqrt{5}", r"5\sqrt{2}", r"4\sqrt{5}", "4.47"]),
    "test/algebra/1519.json": (r"\frac{\sqrt{3}}{3}", [r"\frac{1}{\sqrt{3}}", r"\dfrac{\sqrt3}{3}", r"\sqrt{3}/3", r"\frac{\sqrt{3}}{3}"], [r"\frac{\sqrt{3}}{2}", r"\sqrt{3}", r"\frac{\sqrt{2}}{3}", "0.577"]),
    "test/geometry/353.json": (r"\sqrt{5}", [r"\sqrt5", r"\sqrt{5}", r"5^{1/2}", r"\frac{5}{\sqrt{5}}"], ["5", r"\sqrt{6}", r"2\sqrt{5}", "2.236"]),
    "test/intermediate_algebra/1454.json": (r"70 \sqrt{2}", [r"70\sqrt{2}", r"\sqrt{9800}", r"\frac{140}{\sqrt{2}}"], [r"70\sqrt{3}", "70", "140", r"35\sqrt{2}"]),
    "test/prealgebra/1423.json": (r"12\pi", [r"12 \pi", r"\pi \cdot 12", r"\frac{24\pi}{2}"], [r"6\pi", r"12\pi^2", "12", "37.7", r"24\pi"]),
    "test/precalculus/1105.json": (r"-\frac{\pi}{6}", [r"-\dfrac{\pi}{6}", r"\frac{-\pi}{6}", r"-\pi/6"], [r"\frac{\pi}{6}", r"-\frac{\pi}{3}", r"\frac{5\pi}{6}"]),
    "test/intermediate_algebra/1111.json": (r"\frac{20000}{\pi}", [r"\dfrac{20000}{\pi}", r"20000/\pi", r"\frac{40000}{2\pi}"], [r"20000\pi", r"\frac{2000}{\pi}", "6366"]),
    "test/geometry/686.json": (r"18+2\pi", [r"2\pi + 18", r"2(9+\pi)", r"18 + 2 \pi"], [r"18+\pi", r"18\pi + 2", r"20\pi", "24.28"]),
    # --- degrees, percent, money, units: the number is the answer
    "test/precalculus/117.json": (r"30^\circ", ["30", r"30^{\circ}", r"30 ^\circ", r"30 \text{ degrees}", r"30°", r"\angle APB = 30^\circ"], ["31", "60", "3", r"300^\circ"]),
    "test/geometry/615.json": (r"106^\circ", ["106", r"106^{\circ}", r"106 \text{ degrees}"], ["16", "107", "74", r"106\pi"]),
    "test/prealgebra/1003.json": (r"\frac{270}7\text{ degrees}", [r"\frac{270}{7}", r"\frac{270}{7}^\circ", r"\frac{270}{7} \text{ degrees}", r"38\frac{4}{7}", "270/7"], [r"\frac{207}{7}", r"\frac{360}{7}", "38.57", r"\frac{270}{7}\pi"]),
    "test/prealgebra/1114.json": (r"15\mbox{ cm}^2", ["15", r"15 \text{ cm}^2", r"15\text{ cm}^2", r"15 \, \text{cm}^2", "15 cm^2"], ["16", "1.5", r"15\sqrt{2}", r"150 \text{ cm}^2"]),
    "test/geometry/473.json": (r"864 \mbox{ inches}^2", ["864", r"864 \text{ inches}^2", r"864 \text{ square inches}", "864 square inches"], ["846", "86.4", "8640", r"864\pi"]),
    "test/prealgebra/1044.json": (r"5.4 \text{ cents}", ["5.4", r"5.4\text{ cents}", r"5.40", "5.4 cents", r"\frac{27}{5}"], ["5.5", "54", "5"]),
    "test/algebra/2780.json": (r"\$18.90", ["18.90", "18.9", r"\$18.90", r"\$ 18.90", r"18.90 \text{ dollars}"], ["19.80", "18.09", "189", "18"]),
    "test/algebra/2626.json": (r"\$32,\!348", ["32348", "32,348", r"\$32,348", r"32{,}348", r"32\,348"], ["32349", "32,349", "3234.8", "32"]),
    "test/prealgebra/1203.json": (r"\$36", ["36", r"\$36", "36.00", r"\$36.00", r"36 \text{ dollars}"], ["24", "14.40", "360", "3.6"]),
    # --- thousands separators
    "test/counting_and_probability/508.json": (r"10,\!080", ["10080", "10,080", r"10{,}080", r"10\,080", r"10\ 080"], ["10800", "1080", "10,800", "100,80"]),
    "test/number_theory/417.json": (r"11,\! 111,\! 111,\! 100", ["11111111100", "11,111,111,100", r"11\,111\,111\,100"], ["11111111110", "1111111100", "11,111,111,000"]),
    "test/counting_and_probability/737.json": ("58,500", ["58500", "58,500", r"58{,}500", r"58\,500"], ["58,000", "5850", "585,000", "500, 58"]),
    # --- equations: `x = 5` and `5` give the same root; a line must stay the same line
    "test/algebra/2193.json": ("x=5", ["5", "x = 5", "x=5.0", r"x = \frac{10}{2}"], ["x = 9", "9", "x = -5", "5, 9"]),
    "test/precalculus/356.json": ("y = -2x", ["y=-2x", "y = -2x + 0", "2x + y = 0", r"y = -\frac{4x}{2}"], ["y = 2x", r"y = -\frac{1}{2}x", "y = -2x + 1", "x = -2y"]),
    "test/precalculus/323.json": ("y = 2x + 3", ["y=2x+3", "y = 3 + 2x", "2x - y + 3 = 0"], ["y = 2x + 1", "y = 3x + 2", "y = -2x + 3"]),
    "test/precalculus/659.json": ("5x - 7y + 11z + 4 = 0", ["5x-7y+11z+4=0", "-5x + 7y - 11z - 4 = 0", "5x + 11z - 7y = -4"], ["5x - 7y + 11z - 4 = 0", "5x + 7y + 11z + 4 = 0", "5x - 7y + 11z = 0"]),
    # --- multiple choice: the letter is the answer, however it is dressed
    "test/precalculus/819.json": (r"\text{(C)}", ["C", "(C)", r"\text{C}", r"\textbf{(C)}", r"\mathrm{(C)}", r"\text{(C) Plane}", r"\textbf{(C)}\ \text{Plane}"], ["B", "(D)", r"\text{(A)}", r"\text{(F)}", "(E) Cylinder"]),
    "test/precalculus/452.json": (r"\text{(E)}", ["E", "(E)", r"\text{E}", r"\textbf{(E)}"], ["D", r"\text{(A)}", "(B)"]),
    "test/intermediate_algebra/754.json": (r"\text{(B)}", ["B", "(B)", r"\text{(B)}", r"\mathbf{(B)}"], ["A", "(C)", r"\text{(D)}", "(A) or (B)"]),
    # --- intervals: ordered, and the brackets are part of the answer
    "test/precalculus/695.json": (r"(-\infty, 0]", [r"(-\infty,0]", r"\left(-\infty, 0\right]", r"y \le 0", r"(-\infty, 0.0]"], [r"(-\infty, 0)", r"[-\infty, 0]", r"(0, \infty)", r"(-\infty, 1]", r"[0, \infty)"]),
    "test/algebra/2043.json": (r"(-\infty, 2) \cup (3, \infty)", [r"(-\infty,2)\cup(3,\infty)", r"(3, \infty) \cup (-\infty, 2)", r"\left(-\infty, 2\right) \cup \left(3, \infty\right)"], [r"(-\infty, 2] \cup [3, \infty)", r"(2, 3)", r"(-\infty, 3) \cup (2, \infty)", r"(-\infty, 2)"]),
    "test/intermediate_algebra/558.json": ("(3,4]", ["(3, 4]", r"\left(3, 4\right]", r"(3, 4.0]"], ["(3,4)", "[3,4]", "[3,4)", "(3,5]", "(4,3]"]),
    "test/algebra/2486.json": (r"\left(\frac{3}{5},\frac{8}{3}\right]", [r"(\frac{3}{5}, \frac{8}{3}]", r"(0.6, \frac{8}{3}]", r"\left( \dfrac35, \dfrac83 \right]"], [r"[\frac{3}{5}, \frac{8}{3}]", r"(\frac{3}{5}, \frac{8}{3})", r"(\frac{5}{3}, \frac{8}{3}]", r"(0.6, 2.67]"]),
    "test/precalculus/499.json": (r"\left[ \frac{\pi^2}{8}, \frac{5 \pi^2}{4} \right]", [r"[\frac{\pi^2}{8}, \frac{5\pi^2}{4}]", r"\left[\frac{\pi^2}{8},\frac{5\pi^2}{4}\right]"], [r"(\frac{\pi^2}{8}, \frac{5\pi^2}{4}]", r"[\frac{\pi^2}{4}, \frac{5\pi^2}{4}]", r"[\frac{\pi}{8}, \frac{5\pi}{4}]"]),
    "test/intermediate_algebra/183.json": (r"(2,\infty)", [r"(2, \infty)", r"\left(2, \infty\right)", r"x > 2", r"(2, +\infty)"], [r"[2, \infty)", r"(-\infty, 2)", r"(2, \infty]", r"x \ge 2", "(3, \\infty)"]),
    "test/algebra/1078.json": (r"(-\sqrt{3}, \sqrt{3})", [r"(-\sqrt3,\sqrt3)", r"\left(-\sqrt{3}, \sqrt{3}\right)"], [r"[-\sqrt{3}, \sqrt{3}]", r"(-\sqrt{3}, \sqrt{3}]", r"(-3, 3)", r"(\sqrt{3}, -\sqrt{3})"]),
    "test/algebra/101.json": (r"x \in [-2,7]", ["[-2,7]", "[-2, 7]", r"x \in [-2, 7]", r"-2 \le x \le 7"], ["(-2,7)", "[-2,7)", "[-7,2]", "[2,7]"]),
    # --- tuples: ordered
    "test/geometry/1108.json": ("(2,4)", ["(2, 4)", r"\left( 2, 4 \right)", "(2.0, 4)"], ["(4,2)", "[2,4]", "(2,-4)", "(2,4,0)"]),
    "test/precalculus/43.json": ("(15,-29)", ["(15, -29)", r"\left(15,-29\right)"], ["(-29,15)", "(15,29)", "(-15,-29)"]),
    "test/precalculus/807.json": (r"\left( 3, \frac{\pi}{2} \right)", [r"(3, \frac{\pi}{2})", r"\left(3,\frac{\pi}{2}\right)", r"(3, \pi/2)", r"\left( 3, \dfrac{\pi}{2} \right)"], [r"(\frac{\pi}{2}, 3)", r"(3, \frac{\pi}{3})", r"(-3, \frac{3\pi}{2})"]),
    "test/precalculus/541.json": (r"\left( \frac{3}{2}, -13 \right)", [r"(\frac{3}{2}, -13)", "(1.5, -13)", r"\left(\dfrac32,-13\right)"], [r"(-13, \frac{3}{2})", r"(\frac{3}{2}, 13)", r"(\frac{2}{3}, -13)"]),
    "test/intermediate_algebra/690.json": ("(1,-16,-4,43)", ["(1, -16, -4, 43)", r"\left(1,-16,-4,43\right)"], ["(1,-16,43,-4)", "(1,16,-4,43)", "(1,-16,-4)", "(-16,1,-4,43)"]),
    "test/intermediate_algebra/956.json": ("(6,31,-1)", ["(6, 31, -1)", r"\left( 6, 31, -1 \right)"], ["(6,-1,31)", "(31,6,-1)", "(6,31,1)"]),
    # --- answer sets ("enter all ... separated by commas"): any order
    "test/intermediate_algebra/1388.json": ("1,-2", ["1, -2", "-2, 1", r"\{1,-2\}", r"\{-2, 1\}", r"n = 1, n = -2"], ["1", "-2", "1,2", "1,-2,3", "-1,2"]),
    "test/intermediate_algebra/1102.json": ("-2,1", ["-2, 1", "1, -2", r"\{1, -2\}", r"x = -2 \text{ or } x = 1"], ["-2", "2,1", "-2,1,7", "-1,2"]),
    "test/intermediate_algebra/428.json": ("3, 5, 7", ["3,5,7", "7, 5, 3", "5, 3, 7", r"\{3, 5, 7\}", r"x = 3, 5, 7"], ["3, 5", "3, 7", "3, 5, 7, 10", "3, 6, 7"]),
    "test/intermediate_algebra/2015.json": (r"\{1\pm\sqrt{5},-2\}", [r"-2, 1+\sqrt{5}, 1-\sqrt{5}", r"1 \pm \sqrt{5}, -2", r"\{1+\sqrt5, 1-\sqrt5, -2\}"], [r"1+\sqrt{5}, -2", r"1 \pm \sqrt{5}", r"-1 \pm \sqrt{5}, -2", r"1 \pm \sqrt{5}, 2"]),
    "test/intermediate_algebra/662.json": (r"1 \pm \sqrt{19}", [r"1+\sqrt{19}, 1-\sqrt{19}", r"1 - \sqrt{19}, 1 + \sqrt{19}", r"1\pm\sqrt{19}"], [r"1 + \sqrt{19}", r"1 \pm \sqrt{17}", r"-1 \pm \sqrt{19}", r"1 \pm 19"]),
    "test/precalculus/768.json": (r"3 \pm 2 \sqrt{2}", [r"3+2\sqrt2, 3-2\sqrt2", r"3 \pm \sqrt{8}", r"3 - 2\sqrt{2}, 3 + 2\sqrt{2}"], [r"3 - 2\sqrt{2}", r"3 \pm \sqrt{2}", r"2 \pm 3\sqrt{2}"]),
    # --- expressions in variables
    "test/precalculus/24313.json": (r"\cot x", [r"\frac{\cos x}{\sin x}", r"\frac{1}{\tan x}", r"\cot(x)"], [r"\tan x", r"-\cot x", r"\cos x", r"\cot 2x"]),
    "test/algebra/2046.json": ("x^3+3x-6", ["x^3 + 3x - 6", "3x + x^3 - 6", "x^3 + 3(x - 2)"], ["x^3+3x+6", "x^3-3x-6", "x^2+3x-6", "3x^3+3x-6"]),
    "test/intermediate_algebra/431.json": ("(a+5)(b+2)", ["(b+2)(a+5)", "ab + 2a + 5b + 10", "(5+a)(2+b)"], ["(a+2)(b+5)", "(a+5)(b-2)", "ab + 10", "(a+5)+(b+2)"]),
    "test/prealgebra/1924.json": ("2k+2", ["2k + 2", "2(k+1)", "2 + 2k"], ["2k", "2k+1", "k+2", "4k"]),
    "test/intermediate_algebra/1994.json": ("p - q", ["p-q", "-q + p", "-(q - p)"], ["q - p", "p + q", "pq"]),
    "test/algebra/2735.json": (r"\frac{11+9a}{20}", [r"\frac{9a+11}{20}", r"\frac{11}{20} + \frac{9a}{20}", r"\frac{11+9a}{20}"], [r"\frac{11+9a}{2}", r"\frac{11-9a}{20}", r"\frac{11a+9}{20}"]),
    "test/intermediate_algebra/1467.json": ("8n^2 + 4n + 1", ["8n^2+4n+1", "1 + 4n + 8n^2", "4n(2n+1) + 1"], ["8n^2 + 4n", "8n^2 + 4n - 1", "8n + 4n + 1"]),
    # --- complex numbers
    "test/precalculus/779.json": ("-2 + 7i", ["-2+7i", "7i - 2", "-2 + 7 i"], ["-2 - 7i", "2 + 7i", "7 - 2i", "-2"]),
    # --- text answers
    "test/algebra/1349.json": (r"\text{Evelyn}", ["Evelyn", r"\text{Evelyn}", r"\textbf{Evelyn}", r"\mathrm{Evelyn}"], [r"\text{Bob}", "Carla", r"\text{Debra}"]),
    "test/prealgebra/105.json": (r"\text{east}", ["east", r"\text{East}", r"\textbf{east}", r"\text{ east }"], ["west", r"\text{north}", r"\text{south}"]),
    "test/intermediate_algebra/128.json": (r"\text{even}", ["even", r"\text{even}", r"\textbf{even}", r"\text{Even}"], ["odd", r"\text{odd}", r"\text{neither}"]),
    # --- matrices and vectors
    "test/precalculus/920.json": (
        r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}",
        [r"\begin{pmatrix}-1&0\\0&-1\end{pmatrix}", r"\begin{bmatrix} -1 & 0 \\ 0 & -1 \end{bmatrix}", r"\begin{pmatrix} -1 & 0.0 \\ 0 & -1 \end{pmatrix}"],
        [r"\begin{pmatrix} 1 & 0 \\ 0 & -1 \end{pmatrix}", r"\begin{pmatrix} -1 & 0 \\ 0 & 1 \end{pmatrix}", r"\begin{pmatrix} 0 & -1 \\ -1 & 0 \end{pmatrix}"],
    ),
    "test/precalculus/1300.json": (
        r"\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix}",
        [r"\begin{pmatrix} -\frac{1}{3} \\ \frac{2}{3} \\ \frac{5}{3} \end{pmatrix}", r"\begin{pmatrix}-1/3\\2/3\\5/3\end{pmatrix}", r"\begin{pmatrix} -\dfrac13 \\ \dfrac23 \\ \dfrac53 \end{pmatrix}"],
        [r"\begin{pmatrix} 1/3 \\ 2/3 \\ 5/3 \end{pmatrix}", r"\begin{pmatrix} -1/3 \\ 5/3 \\ 2/3 \end{pmatrix}", r"\begin{pmatrix} -1 \\ 2 \\ 5 \end{pmatrix}"],
    ),
    "test/precalculus/398.json": (
        r"\begin{pmatrix} 1/5 \\ -18/5 \end{pmatrix}",
        [r"\begin{pmatrix} \frac{1}{5} \\ -\frac{18}{5} \end{pmatrix}", r"\begin{pmatrix} 0.2 \\ -3.6 \end{pmatrix}"],
        [r"\begin{pmatrix} -18/5 \\ 1/5 \end{pmatrix}", r"\begin{pmatrix} 1/5 \\ 18/5 \end{pmatrix}", r"\begin{pmatrix} 1 \\ -18 \end{pmatrix}"],
    ),
}  # fmt: skip

# AMC answers are float strings; AIME 2025 answers are zero padded to three digits.
AMC_TABLE: dict[str, tuple[str, list[str], list[str]]] = {
    "0": ("142.0", ["142", "142.0", "142.00", "0142", r"\text{142}"], ["143", "14.2", "1420", "142.5", "-142"]),
    "8": ("-4.0", ["-4", "-4.0", r"-\frac{8}{2}"], ["4", "-4.5", "-40"]),
    "37": ("0.0", ["0", "0.0", "-0"], ["1", "0.1"]),
}
AIME25_TABLE: dict[str, tuple[str, list[str], list[str]]] = {
    "0": ("070", ["70", "070", "70.0", r"\text{070}", "0070", "m + n = 70"], ["7", "700", "71", "0.70", "07"]),
    "2": ("016", ["16", "016", "16.0"], ["6", "160", "61", "0.16"]),
    "17": ("082", ["82", "082"], ["28", "820", "8.2"]),
}


def cases(table: dict, benchmark: dict[str, str], name: str) -> list:
    rows = []
    for problem, (gold, right, wrong) in table.items():
        assert benchmark[problem] == gold, f"{name} {problem}: the data says {benchmark[problem]!r}, the table {gold!r}"
        rows += [pytest.param(pred, gold, True, id=f"{gold} == {pred}") for pred in right]
        rows += [pytest.param(pred, gold, False, id=f"{gold} != {pred}") for pred in wrong]
    return rows


ANSWER_CASES = cases(MATH500_TABLE, MATH500, "MATH-500") + cases(AMC_TABLE, AMC, "AMC") + cases(AIME25_TABLE, AIME25, "AIME 2025")

# Whole responses, boxed format: (response, gold, correct). The last closed box is the answer.
G_FRAC, G_TUPLE, G_SET, G_CHOICE = MATH500["test/algebra/2584.json"], MATH500["test/precalculus/807.json"], MATH500["test/intermediate_algebra/1102.json"], MATH500["test/precalculus/819.json"]
BOXED_RESPONSES = [
    (r"Adding the two equations gives $3x = 14$, so $x = \boxed{\dfrac{14}{3}}$.", G_FRAC, True),
    (r"The answer is $\boxed{\frac{14}{3}}$. Let me double-check: $3 \cdot \frac{14}{3} = 14$. Correct.", G_FRAC, True),
    (r"First I got \boxed{\frac{13}{3}}, but I made an error; redoing it gives \boxed{\frac{14}{3}}.", G_FRAC, True),
    (r"First I got \boxed{\frac{14}{3}}, but rechecking, the answer is \boxed{\frac{13}{3}}.", G_FRAC, False),
    (r"So the answer is \boxed{\frac{14}{3}} ... wait, that is not right. The answer is \boxed{\frac{14", G_FRAC, False),  # cut inside its last box
    (r"\[ \boxed{ \frac{ 14 }{ 3 } } \]", G_FRAC, True),
    (r"Therefore, the final answer is: $\frac{14}{3}$. I hope it is correct.", G_FRAC, True),  # no box: math-verify reads the text
    (r"Therefore, the final answer is: $\frac{13}{3}$. I hope it is correct.", G_FRAC, False),
    (r"In polar coordinates the point is $\boxed{\left( 3, \frac{\pi}{2} \right)}$.", G_TUPLE, True),
    (r"In polar coordinates the point is $\boxed{\left( \frac{\pi}{2}, 3 \right)}$.", G_TUPLE, False),
    (r"The integer roots are $\boxed{1, -2}$.", G_SET, True),
    (r"The integer roots are $\boxed{\{-2, 1\}}$.", G_SET, True),
    (r"The integer roots are $\boxed{-2}$.", G_SET, False),
    (r"The shape is a plane, so the answer is $\boxed{\text{(C)}}$.", G_CHOICE, True),
    (r"The shape is a plane: \boxed{C}", G_CHOICE, True),
    (r"The shape is a cylinder: \boxed{(E)}", G_CHOICE, False),
    (r"so the remainder is \boxed{070}.", AIME25["0"], True),
    (r"so the remainder is \boxed{70}.", AIME25["0"], True),
    (r"so the remainder is \boxed{7}.", AIME25["0"], False),
    (r"Hence the sum is $\boxed{142}$.", AMC["0"], True),
]

# Base models prompted with the R1 template: (response, gold, correct) in answer_format="answer_tag_strict"
# (only a closed <answer> span; until the paper's reading became "answer_tag", this table was its).
TAGGED_RESPONSES = [
    (r"<think>3x = 14</think> <answer>\frac{14}{3}</answer>", G_FRAC, True),
    (r"<think>3x = 14</think> <answer> 14/3 </answer>", G_FRAC, True),
    (r"<think>3x = 14</think> <answer>x = \frac{14}{3}</answer>", G_FRAC, True),
    (r"<think>3x = 14</think> <answer>$\dfrac{14}{3}$</answer>", G_FRAC, True),
    (r"<think>3x = 14</think> <answer>The value is \boxed{\frac{14}{3}}.</answer>", G_FRAC, True),
    (r"<think>3x = 14</think> <answer>4.67</answer>", G_FRAC, False),  # a rounding is not the value
    (r"<think>3x = 14</think> <answer>\frac{14}{3}", G_FRAC, False),  # cut before </answer>
    (r"<think>3x = 14, so x = \frac{14}{3}</think>", G_FRAC, False),  # no answer span at all
    (r"<answer>\frac{13}{3}</answer> No: <answer>\frac{14}{3}</answer>", G_FRAC, True),
    (r"<answer>\frac{14}{3}</answer> No: <answer>\frac{13}{3}</answer>", G_FRAC, False),
    ("<think>...</think> <answer>(C)</answer>", G_CHOICE, True),
    ("<think>...</think> <answer>The answer is (C).</answer>", G_CHOICE, True),
    ("<think>...</think> <answer>(B)</answer>", G_CHOICE, False),
    ("<think>...</think> <answer>70</answer>", AIME25["0"], True),
    ("<think>...</think> <answer>142</answer>", AMC["0"], True),
    ("<think>...</think> <answer>-2, 1</answer>", G_SET, True),
    ("<think>...</think> <answer>(3, pi/2)</answer>", G_TUPLE, True),
    ("<think>...</think> <answer>30 degrees</answer>", MATH500["test/precalculus/117.json"], True),
    ("<think>...</think> <answer>15 cm^2</answer>", MATH500["test/prealgebra/1114.json"], True),
    ("<think>...</think> <answer>$18.90</answer>", MATH500["test/algebra/2780.json"], True),
    ("<think>...</think> <answer>10,080</answer>", MATH500["test/counting_and_probability/508.json"], True),
]

# The same template as the paper's training reads it (answer_format="answer_tag"): after the last <answer>,
# the last box, else what follows "the answer is", else the last number. (response, gold, correct)
PAPER_TAGGED_RESPONSES = [
    (r"<think>3x = 14</think> <answer>\boxed{\frac{14}{3}}</answer>", G_FRAC, True),
    (r"<think>3x = 14</think> <answer>The value is \boxed{\frac{14}{3}}.</answer>", G_FRAC, True),
    (r"<think>3x = 14</think> <answer>the answer is \frac{14}{3}</answer>", G_FRAC, True),
    (r"<think>3x = 14</think> <answer>\frac{14}{3}</answer>", G_FRAC, False),  # its last number, 3
    (r"<think>3x = 14</think> <answer> 14/3 </answer>", G_FRAC, False),  # 3 again
    (r"<answer>\frac{13}{3}</answer> No: <answer>\boxed{\frac{14}{3}}</answer>", G_FRAC, True),
    (r"<think>3x = 14, so x = \boxed{\frac{14}{3}}</think>", G_FRAC, True),  # no answer tag: the whole response
    ("<think>...</think> <answer>(C)</answer>", G_CHOICE, False),  # no box, no "the answer is", no number
    ("<think>...</think> <answer>The answer is (C).</answer>", G_CHOICE, True),
    ("<think>...</think> <answer>70</answer>", AIME25["0"], True),
    ("<think>2 * 35 = 70</think> <answer>seventy</answer>", AIME25["0"], False),  # no number after <answer>
    ("<think>...</think> <answer>142</answer>", AMC["0"], True),
    ("<think>...</think> <answer>-2, 1</answer>", G_SET, False),  # commas dropped: the last number, 1
    ("<think>...</think> <answer>(3, pi/2)</answer>", G_TUPLE, False),  # 2
    ("<think>...</think> <answer>30 degrees</answer>", MATH500["test/precalculus/117.json"], True),
    ("<think>...</think> <answer>15 cm^2</answer>", MATH500["test/prealgebra/1114.json"], False),  # 2
    ("<think>...</think> <answer>$18.90</answer>", MATH500["test/algebra/2780.json"], True),
    ("<think>...</think> <answer>10,080</answer>", MATH500["test/counting_and_probability/508.json"], True),
]

# ... and as the paper's evaluation reads it (evaluation=True): the same rules on the whole response.
EVALUATED_TAGGED_RESPONSES = [
    (r"<think>3x = 14</think> <answer>\boxed{\frac{14}{3}}</answer>", G_FRAC, True),
    (r"<think>is it \boxed{\frac{13}{3}}?</think> <answer>\boxed{\frac{14}{3}}</answer>", G_FRAC, True),
    (r"<think>is it \boxed{\frac{13}{3}}?</think> <answer>\frac{14}{3}</answer>", G_FRAC, False),  # the box
    ("<think>2 * 35 = 70</think> <answer>seventy</answer>", AIME25["0"], True),  # the last number, 70
    ("<think>...</think> <answer>70</answer>", AIME25["0"], True),
    ("<think>...</think> <answer>$18.90</answer>", MATH500["test/algebra/2780.json"], True),
    ("<think>...</think> <answer>-2, 1</answer>", G_SET, False),
]


@pytest.fixture(scope="module")
def answer_verdicts(pool) -> dict[tuple[str, str], bool]:
    return answer_verdicts_of(((case.values[0], case.values[1]) for case in ANSWER_CASES), pool)


@pytest.mark.parametrize("pred, gold, expected", ANSWER_CASES)
def test_gold_against_rewriting(answer_verdicts, pred, gold, expected):
    assert answer_verdicts[pred, gold] is expected


@pytest.fixture(scope="module")
def response_verdicts(pool) -> dict[tuple[str, str, str], bool]:
    """Every response row graded in one batch per format: (response, gold, format) -> correct."""
    verdicts = {}
    for rows, answer_format in [
        (BOXED_RESPONSES, "boxed"), (TAGGED_RESPONSES, "answer_tag_strict"), (PAPER_TAGGED_RESPONSES, "answer_tag")
    ]:  # fmt: skip
        responses, answers, _ = zip(*rows)
        result = grade_responses(responses, answers, pool=pool, answer_format=answer_format)
        verdicts.update({(r, a, answer_format): c for r, a, c in zip(responses, answers, result.correct)})
    tasks = [response_task(r, a, "answer_tag", evaluation=True) for r, a, _ in EVALUATED_TAGGED_RESPONSES]
    result = pool.grade(tasks)
    verdicts.update({(r, a, "evaluation"): c for (r, a, _), c in zip(EVALUATED_TAGGED_RESPONSES, result.correct)})
    return verdicts


@pytest.mark.parametrize("response, gold, expected", BOXED_RESPONSES, ids=[f"{g} <- {r[-50:]}" for r, g, _ in BOXED_RESPONSES])
def test_whole_response(response_verdicts, response, gold, expected):
    assert response_verdicts[response, gold, "boxed"] is expected


@pytest.mark.parametrize("response, gold, expected", TAGGED_RESPONSES, ids=[f"{g} <- {r[-50:]}" for r, g, _ in TAGGED_RESPONSES])
def test_answer_tag_strict_response(response_verdicts, response, gold, expected):
    assert response_verdicts[response, gold, "answer_tag_strict"] is expected


@pytest.mark.parametrize("response, gold, expected", PAPER_TAGGED_RESPONSES, ids=[f"{g} <- {r[-50:]}" for r, g, _ in PAPER_TAGGED_RESPONSES])
def test_answer_tag_response(response_verdicts, response, gold, expected):
    assert response_verdicts[response, gold, "answer_tag"] is expected


@pytest.mark.parametrize("response, gold, expected", EVALUATED_TAGGED_RESPONSES, ids=[f"{g} <- {r[-50:]}" for r, g, _ in EVALUATED_TAGGED_RESPONSES])
def test_answer_tag_response_in_evaluation(response_verdicts, response, gold, expected):
    assert response_verdicts[response, gold, "evaluation"] is expected
