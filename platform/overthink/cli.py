"""`overthink <stage> ...`: one subcommand per stage; config = defaults < --config YAML < --set."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from overthink.config import help_table, load_config
from overthink.errors import OverthinkError

EXAMPLES = Path(__file__).parent / "examples" / "responses.jsonl"


@dataclass(frozen=True)
class Stage:
    name: str
    summary: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    config_model: Callable[[], type]


def _analyze_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", nargs="+", metavar="PATH", help="JSONL/Parquet files, folders or globs (input.path).")
    parser.add_argument("--output", metavar="DIR", help="Output folder (output_dir).")
    _common_arguments(parser)
    parser.add_argument("--no-ray", action="store_true", help="Analyze in this process instead of on Ray Data.")


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML config; keys as listed below.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="Override one config key (repeatable), e.g. --set distinct.method=embedding.")
    parser.add_argument("--print-config", action="store_true", help="Print the resolved config as YAML and exit.")


def analyze_config_from_args(args: argparse.Namespace):
    from overthink.analyze.config import AnalyzeConfig

    overrides = list(args.overrides)
    if args.input:  # JSON is YAML: paths with quotes, colons or spaces survive
        overrides.append(f"input.path={json.dumps(args.input)}")
    if args.output:
        overrides.append(f"output_dir={json.dumps(args.output)}")
    return load_config(AnalyzeConfig, args.config, overrides)


def _run_analyze(args: argparse.Namespace) -> int:
    from overthink.analyze.stage import run_analyze

    config = analyze_config_from_args(args)
    if args.print_config:
        print(config.to_yaml(), end="")
        return 0
    result = run_analyze(config, use_ray=not args.no_ray)
    print(result.table_markdown, end="")
    print(f"Wrote {result.output_dir / 'analyzed.parquet'} and {result.output_dir / 'metrics.json'}")
    return 0


def _quickstart_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", metavar="DIR", default="out/quickstart", help="Output folder.")
    _common_arguments(parser)
    parser.add_argument("--no-ray", action="store_true", help="Analyze in this process instead of on Ray Data.")


def _run_quickstart(args: argparse.Namespace) -> int:
    args.input = [str(EXAMPLES)]
    args.overrides = ["report.model_name=examples", *args.overrides]
    return _run_analyze(args)


def _analyze_model():
    from overthink.analyze.config import AnalyzeConfig

    return AnalyzeConfig


STAGES = {
    stage.name: stage
    for stage in (
        Stage("analyze", "Split responses into solutions, grade them and compute the paper's efficiency metrics.",
              _analyze_arguments, _run_analyze, _analyze_model),
        Stage("quickstart", "Analyze the bundled example responses on local Ray and MLflow (the README's first command).",
              _quickstart_arguments, _run_quickstart, _analyze_model),
    )
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="overthink", description="Measure and cure overthinking in o1-like models, on Ray.")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for stage in STAGES.values():
        child = sub.add_parser(stage.name, help=stage.summary, description=stage.summary,
                               formatter_class=argparse.RawDescriptionHelpFormatter,
                               epilog="config keys (--set KEY=VALUE or YAML):\n" + help_table(stage.config_model()))
        stage.add_arguments(child)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return STAGES[args.stage].run(args)
    except OverthinkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished shards are kept; run the same command again to resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
