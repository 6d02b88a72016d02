"""Ray Data adapter: shards -> actors running the Analyzer -> Arrow tables, streamed back."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.records import Shard


class ShardAnalyzer:
    """Ray Data callable class: one Analyzer (tokenizer, grade cache, judges) per actor."""

    def __init__(self, config_json: str):
        from overthink.analyze.core import Analyzer

        self.config = AnalyzeConfig.model_validate_json(config_json)
        self.analyzer = Analyzer(self.config)

    def __call__(self, batch: dict) -> pa.Table:
        from overthink.analyze.shard import analyze_shard

        tables = [analyze_shard(self.analyzer, Shard.from_json(text)) for text in batch["shard"]]
        return pa.concat_tables(tables)


def analyze_shards_on_ray(config: AnalyzeConfig, shards: list[Shard], actors: int) -> Iterator[pa.Table]:
    """Yield one analyzed table per shard, as shards finish."""
    import ray.data

    dataset = ray.data.from_items([{"shard": s.to_json()} for s in shards], override_num_blocks=len(shards))
    analyzed = dataset.map_batches(
        ShardAnalyzer,
        fn_constructor_kwargs={"config_json": config.model_dump_json()},
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
        num_cpus=config.cpus_per_actor,
    )
    yield from analyzed.iter_batches(batch_size=None, batch_format="pyarrow")
