import re
import subprocess

from conftest import PYTHON, REPO


def test_readme_opens_with_the_two_setup_commands():
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    assert "bash scripts/install.sh && .venv/bin/overthink pipeline --config configs/pipeline/organism.yaml" in blocks[0]
    assert "bash scripts/test.sh" in blocks[0]
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()


def test_readme_config_tables_match_the_config_models():
    result = subprocess.run([PYTHON, str(REPO / "scripts" / "render_readme_tables.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
