"""No number in the README without its record (issue 26): every number its prose quotes is
either a value of a committed JSON record in docs/bench/ (each carries its command, date,
commit and machine; the README's figure is the record's value rounded the way the README
writes it), or a definition listed below (a grid size, the parameter box, a version), with
the reason it needs no record. Code blocks and inline code are commands, not claims."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RECORDS = sorted((ROOT / "docs" / "bench").glob("*.json"))

#: Numbers that are definitions, not measurements: the value and why it needs no record
DEFINITIONS = {
    "32": "the laptop grid's rows", "128": "the laptop grid's columns",
    "126": "the paper grid's rows", "504": "the paper grid's columns",
    "4": "the box's aspect ratio",
    "0": "the box's Q lower bound", "10": "Q's upper bound; the default case's beta",
    "1e5": "the laptop box's gamma lower bound", "1e6": "the box's gamma upper bound",
    "3": "the box's beta lower bound", "30": "the box's beta upper bound",
    "1e10": "the study's gamma upper bound", "100": "the study's beta upper bound",
    "1": "Ra; the study's beta lower bound", "5": "the default case's Q",
    "0.1": "the default case's end time", "20": "the first command's MUMPS interval",
    "2": "the warm-up steps; two commands", "2025": "the study's year",
    "2505.16041": "the study's arXiv number",
    "3.18": "PETSc's version", "12": "Debian's version", "3.11": "Python's version",
    "9": "the test runs of the laptop campaign", "64": "the laptop campaign's runs",
}
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\]\([^)]*\)")
#: a number, alone or as a ratio (5.3x); not a piece of a version (2.13.0) or of a word
NUMBER = re.compile(r"(?<![\w.])(\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?)"
                    r"(?=x\b|[^\w.]|\.(?!\d)|$)", re.I)
VERSION = re.compile(r"\d+\.\d+\.\d+")


def quoted_numbers(text: str) -> list[str]:
    text = LINK.sub("]", CODE.sub("", FENCE.sub("", text)))
    text = VERSION.sub(lambda m: m.group(0).replace(".", "_"), text)   # 2.13.0: a name
    text = re.sub(r"(\d+)x(\d+)", r"\1 \2", text)           # grid sizes: 32x128
    return [m.group(1) for m in NUMBER.finditer(text)]


def record_values() -> list[float]:
    out = []

    def walk(x):
        if isinstance(x, bool):
            return
        if isinstance(x, (int, float)):
            out.append(float(x))
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    for path in RECORDS:
        walk(json.loads(path.read_text()))
    return out


def same_figure(token: str, value: float) -> bool:
    """Does `value` written the way `token` is written give `token`?"""
    t = token.replace(",", "")
    if "e" in t.lower():
        mant, exp = t.lower().split("e")
        digits = len(mant.replace(".", "").lstrip("0")) or 1
        return f"{value:.{digits - 1}e}".replace("e-0", "e-").replace("e+0", "e") \
            .replace("e+", "e") == t.lower().replace("e-0", "e-")
    decimals = len(t.split(".")[1]) if "." in t else 0
    return f"{value:.{decimals}f}" == t or f"{value * 100:.{decimals}f}" == t


def test_every_number_in_the_readme_has_a_record_or_is_a_definition():
    values = record_values()
    unrecorded = []
    for token in quoted_numbers(README.read_text()):
        if token.replace(",", "") in DEFINITIONS:
            continue
        if not any(same_figure(token, v) for v in values):
            unrecorded.append(token)
    assert not unrecorded, ("README numbers with no record in docs/bench/*.json (or add a "
                            f"definition with its reason): {sorted(set(unrecorded))}")


def test_the_check_finds_an_unrecorded_number():
    assert quoted_numbers("runs 37.25x faster on 126x504 (`9.99`)") == ["37.25", "126", "504"]
    assert not any(same_figure("37.25", v) for v in [37.2, 37.3, 3.725])
    assert same_figure("0.030", 0.02996) and same_figure("1.6e-5", 1.61e-5)
    assert same_figure("5.3", 5.26) and not same_figure("5.3", 5.2)
