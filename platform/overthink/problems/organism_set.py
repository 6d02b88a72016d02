"""The model organism's own problems: drawn from its generator with seeds apart from the
training corpus, and filtered so no held-out problem text occurs in the training corpus."""

from __future__ import annotations

from overthink.problems.config import ProblemSetConfig
from overthink.problems.schema import Problem

SPLIT_SEEDS = {"test": 1_000_000, "dev": 2_000_000}
DEFAULT_COUNT = 500


def load_organism_problems(config: ProblemSetConfig) -> list[Problem]:
    from overthink.organism.config import CorpusConfig
    from overthink.organism.corpus import generate

    split = config.split or "test"
    corpus = CorpusConfig()
    if split == "train":
        pairs = generate(corpus, config.limit or corpus.examples, corpus.seed, prefix="train")
    else:
        if split not in SPLIT_SEEDS:
            raise ValueError(f"organism problems have splits train, {', '.join(SPLIT_SEEDS)}; not {split!r}")
        seen = {p.problem for p, _ in generate(corpus, corpus.examples, corpus.seed, prefix="train")}
        wanted = config.limit or DEFAULT_COUNT
        pairs, draw = [], 0
        while len(pairs) < wanted and draw < 20:
            batch = generate(
                corpus, 4 * wanted, SPLIT_SEEDS[split] + 1000 * config.seed + draw, prefix=f"{split}{draw}"
            )
            pairs += [
                (p, r) for p, r in batch if p.problem not in seen and p.problem not in {q.problem for q, _ in pairs}
            ]
            draw += 1
        pairs = pairs[:wanted]
    return [
        Problem(
            problem_id=f"organism/{split}/{i}",
            dataset=config.dataset_name or "organism",
            problem=p.problem,
            gold=p.gold,
            level=p.kind,
        )
        for i, (p, _) in enumerate(pairs)
    ]
