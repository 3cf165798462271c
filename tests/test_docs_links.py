"""Every relative link and image in README.md and docs/**/*.md points at a file or folder
that exists (and, for a '#anchor' into a markdown file, at one of its headings)."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: [text](target) and ![alt](target), the target up to whitespace or ')'; <a href>/<img src>
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML = re.compile(r"<(?:a|img)\s[^>]*(?:href|src)=\"([^\"]+)\"", re.I)
REF = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    h = re.sub(r"[`*]", "", heading.strip()).lower()
    h = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", h)
    return re.sub(r"[^\w\- ]", "", h).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for m in re.finditer(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, re.M):
        s = slug(m.group(1))
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def targets(page: Path) -> list[str]:
    text = CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return [*LINK.findall(text), *HTML.findall(text), *REF.findall(text)]


def broken(page: Path) -> list[str]:
    bad = []
    for target in targets(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            continue                                  # http:, https:, mailto: ...
        path, _, anchor = target.partition("#")
        dest = page if not path else (page.parent / unquote(path)).resolve()
        if not dest.exists():
            bad.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor.lower() not in anchors(dest):
            bad.append(f"{target} (no heading #{anchor} in {dest.name})")
    return bad


def test_the_pages_are_found():
    assert (ROOT / "README.md") in PAGES and len(PAGES) > 3


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page):
    assert broken(page) == [], f"{page.relative_to(ROOT)}: broken relative links"


def test_the_checker_sees_a_broken_link(tmp_path):
    page = tmp_path / "p.md"
    (tmp_path / "there.md").write_text("# A heading\n")
    page.write_text("[ok](there.md) [ok](there.md#a-heading) ![img](missing.png) "
                    "[x](there.md#nowhere) `[code](nope.md)` [web](https://example.org)\n")
    assert broken(page) == ["missing.png (no such file)",
                            "there.md#nowhere (no heading #nowhere in there.md)"]


PLACEHOLDER = re.compile(r"@@[A-Z_]+@@|\bTODO\b|\bTBD\b")


def unfinished(page: Path) -> list[str]:
    """Placeholders a page was drafted with ('@@NAME@@', TODO, TBD), outside code."""
    return PLACEHOLDER.findall(CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8"))))


@pytest.mark.parametrize("page", [p for p in PAGES if "reports" not in p.parts],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_is_left_a_draft(page):
    assert unfinished(page) == [], f"{page.relative_to(ROOT)}: placeholders left"


def test_the_draft_check_sees_a_placeholder(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# R\n\n@@ROLLOUTS@@\n\nsome TODO here, `TODO` in code is fine\n")
    assert unfinished(page) == ["@@ROLLOUTS@@", "TODO"]
