"""The README's first command: build the model organism, sample it on held-out problems with
vLLM on local Ray, analyze the samples, print the paper-style table."""

from __future__ import annotations

from pathlib import Path

from overthink.config import load_config

SAMPLE_DEFAULTS = {
    "problems": [{"name": "organism", "split": "test", "limit": 64}],
    "engine": {"backend": "vllm", "model": "organism", "batch_size": 256},
    "sampling": {"n": 4, "temperature": 1.0, "max_tokens": 768, "seed": 0},
}


def run_quickstart(output: str, overrides: list[str]) -> str:
    """Returns the analysis table (Markdown). `overrides` apply to the sample config."""
    from overthink.analyze.config import AnalyzeConfig
    from overthink.analyze.stage import run_analyze
    from overthink.organism.build import build_organism
    from overthink.organism.config import OrganismConfig
    from overthink.sample.config import SampleConfig
    from overthink.sample.stage import run_sample

    organism = OrganismConfig()
    path = build_organism(organism)
    print(f"organism: {path.resolve()}")
    base = {**SAMPLE_DEFAULTS, "prompt": {"system_prompt": organism.system_prompt, "answer_instruction": ""},
            "output_dir": str(Path(output) / "samples")}
    sample = load_config(SampleConfig, None, overrides, base=base)
    samples = run_sample(sample)
    analysis = load_config(AnalyzeConfig, None, [
        f"input.path={samples.output_dir / 'samples.parquet'}", f"output_dir={Path(output) / 'analysis'}",
        f"tokenizer={path.resolve()}", "report.model_name=organism"])
    return run_analyze(analysis).table_markdown
