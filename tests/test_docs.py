"""The README's promises and the generated docs stay true."""

import re
import subprocess

from locations import PYTHON, REPO


def test_readme_opens_with_the_two_setup_commands():
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    assert (
        "bash scripts/install.sh && .venv/bin/overthink pipeline --config configs/pipeline/organism.yaml" in blocks[0]
    )
    assert "bash scripts/test.sh" in blocks[0]
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()


def test_readme_stays_short_and_its_links_resolve():
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) <= 15_000
    for link in re.findall(r"\]\(((?:docs|configs|jobs|platform|bench|scripts)/[^)#]+)", text):
        assert (REPO / link).exists(), f"README links to missing {link}"


def test_config_reference_is_current_and_no_stage_table_is_empty():
    result = subprocess.run(
        [PYTHON, str(REPO / "scripts" / "render_docs.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_config_reference_check_fails_on_a_stale_document(tmp_path):
    """The check is not vacuous: a reference missing one key is reported stale."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_docs", REPO / "scripts" / "render_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    document, empty = module.render()
    assert not empty and "<function" not in document and " at 0x" not in document  # the same in every process
    for stage in ("sample", "analyze", "pairs", "train", "evaluate", "sweep", "pipeline"):
        section = document.split(f"## {stage}\n", 1)[1].split("\n## ", 1)[0]
        assert section.count("\n| `") >= 3, f"{stage}'s table is (nearly) empty"
    current = tmp_path / "config.md"
    current.write_text(document)
    assert not module.is_stale(current)
    current.write_text(document.replace("| `sampling.n` |", "| `sampling.m` |", 1))
    assert module.is_stale(current)
