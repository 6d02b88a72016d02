"""Analyze one shard of input: read, map columns, analyze, return an Arrow table."""

from __future__ import annotations

import pyarrow as pa

from overthink.analyze.core import Analyzer
from overthink.analyze.records import Shard, canonical, read_shard
from overthink.analyze.schema import rows_to_table


def analyze_shard(analyzer: Analyzer, shard: Shard) -> pa.Table:
    columns = analyzer.config.input.columns
    records = [canonical(raw, columns, analyzer.config.input.dataset_name) for raw in read_shard(shard)]
    return rows_to_table(analyzer.analyze(records), shard.index)
