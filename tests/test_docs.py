"""The docs: the MkDocs site builds with no warning, and the README stays short with working links."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_LINES = 260

# [text](target) and ![alt](target); the target ends at whitespace or the closing parenthesis.
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def relative_links(markdown: str) -> list[str]:
    """The link targets of ``markdown`` that point into the repository (no URL, no bare anchor)."""
    text = FENCE.sub("", markdown)
    targets = [match.group(1) for match in MARKDOWN_LINK.finditer(text)]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE) and not t.startswith("#")]


def test_the_docs_build_strictly(tmp_path):
    """`mkdocs build --strict` fails on any warning: a page missing from the nav, a broken link or anchor."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "contributing" / "index.html").is_file()


def test_the_readme_stays_short():
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_every_relative_link_in_the_readme_points_at_an_existing_file():
    links = relative_links(README.read_text())
    assert links, "the README links to the docs"
    missing = [link for link in links if not (ROOT / unquote(link.split("#", 1)[0])).exists()]
    assert missing == []


def test_the_link_finder_sees_relative_links_and_skips_urls_anchors_and_code():
    markdown = ("[a](docs/a.md#x) ![b](docs/b.png) [c](https://x.org) [d](#top) <http://127.0.0.1:7860>\n"
                "```bash\n[e](not/a/link.md)\n```\n")
    assert relative_links(markdown) == ["docs/a.md#x", "docs/b.png"]


def test_the_install_page_gives_the_readmes_two_commands_word_for_word():
    def commands(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith(("python3.11 -m venv", "apt-get update"))]

    readme = commands(README.read_text())
    assert len(readme) == 2
    assert commands((ROOT / "docs" / "deployment.md").read_text()) == readme
