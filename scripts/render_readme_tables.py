"""Regenerates the config tables in README.md from the config models' field help.
    .venv/bin/python scripts/render_readme_tables.py   (tests/test_readme.py checks they match)"""

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def tables() -> dict[str, str]:
    from overthink.cli import STAGES
    from overthink.config import help_table

    shallow = {"sweep": ("search",), "pipeline": ()}  # their other sections are whole stage configs
    return {name: help_table(stage.config_model(), markdown=True, expand=shallow.get(name))
            for name, stage in STAGES.items() if name != "quickstart"}


def render(text: str) -> str:
    for name, table in tables().items():
        pattern = re.compile(rf"(<!-- config:{name} -->\n).*?(\n<!-- /config:{name} -->)", re.DOTALL)
        text = pattern.sub(lambda m: m.group(1) + table + m.group(2), text)
    return text


if __name__ == "__main__":
    new = render(README.read_text())
    if "--check" in sys.argv:
        sys.exit(0 if new == README.read_text() else "README config tables are stale: run scripts/render_readme_tables.py")
    README.write_text(new)
