"""Replace one generated section of a markdown file, leaving the rest as it is.

A section is the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`;
when the markers are missing the section is appended. Lets several bench
scripts (reliability, flood, nemesis) share docs/reliability.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict


def markers(name: str) -> tuple:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def replace_section(path: Path, name: str, body: str) -> None:
    begin, end = markers(name)
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def sections(text: str) -> Dict[str, str]:
    """Every generated section of `text`, by name, markers included."""
    found = re.finditer(r"<!-- (\w+):begin -->.*?<!-- \1:end -->", text, re.S)
    return {m.group(1): m.group(0) for m in found}
