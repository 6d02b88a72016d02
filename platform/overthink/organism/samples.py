"""Several corpus-style responses per problem, as records `overthink analyze` reads: a source of
realistic pairs without sampling a model (tests, benchmarks)."""

from __future__ import annotations

import random

from overthink.organism.build import chat_prompt
from overthink.organism.config import OrganismConfig
from overthink.organism.corpus import generate, response_for


def corpus_records(
    tokenizer, problems: int, per_problem: int, seed: int = 0, config: OrganismConfig | None = None
) -> list[dict]:
    config = config or OrganismConfig()
    rng, records = random.Random(seed), []
    for problem, _ in generate(config.corpus, problems, seed=seed + 1, prefix="corpus-samples"):
        prompt = chat_prompt(tokenizer, problem.problem, config.system_prompt)
        records += [
            {
                "problem_id": problem.problem_id,
                "dataset": "organism",
                "level": problem.kind,
                "problem": problem.problem,
                "gold": problem.gold,
                "prompt": prompt,
                "response": response_for(rng, problem, config.corpus),
            }
            for _ in range(per_problem)
        ]
    return records


def corpus_pairs(
    tokenizer_path: str,
    folder,
    problems: int = 40,
    per_problem: int = 4,
    strategies: tuple[str, ...] = ("fcs_reflection",),
    seed: int = 0,
) -> str:
    """analyze + pairs (in process, no MLflow) over corpus records; returns pairs.parquet's path."""
    import json
    from pathlib import Path

    from transformers import AutoTokenizer

    from overthink.analyze.config import AnalyzeConfig
    from overthink.analyze.stage import run_analyze
    from overthink.config import load_config
    from overthink.pairs.config import PairsConfig
    from overthink.pairs.stage import run_pairs

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records = corpus_records(AutoTokenizer.from_pretrained(tokenizer_path), problems, per_problem, seed)
    (folder / "responses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    analysis = run_analyze(
        load_config(
            AnalyzeConfig,
            None,
            [
                f"input.path={folder / 'responses.jsonl'}",
                f"output_dir={folder / 'analysis'}",
                f"tokenizer={tokenizer_path}",
                "mlflow.enabled=false",
            ],
        ),
        use_ray=False,
    )
    pairs = run_pairs(
        load_config(
            PairsConfig,
            None,
            [
                f"input={analysis.output_dir}",
                f"output_dir={folder / 'pairs'}",
                f"strategies=[{','.join(strategies)}]",
                "mlflow.enabled=false",
            ],
        ),
        use_ray=False,
    )
    return str(pairs.path)
