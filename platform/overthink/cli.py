"""`overthink <stage> ...`, made from the stage registry (overthink.stages): config = defaults <
--config YAML < --set KEY=VALUE < the stage's flags, each flag being one more --set."""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing

import yaml

from overthink.config import field_at, help_table, load_config
from overthink.errors import OverthinkError
from overthink.runtime.logs import routed
from overthink.stages import STAGES, Flag, StageSpec


def flag_arguments(flag: Flag, model: type) -> dict:
    """argparse settings of a flag from its config field: help, list-ness, number type, choices."""
    info = field_at(model, flag.key)
    annotation = info.annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # X | None: the X
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    kwargs = {"metavar": flag.metavar, "help": f"{info.description} ({flag.key})"}
    if typing.get_origin(annotation) is list:
        kwargs["nargs"] = "+"
    elif annotation is int:
        kwargs["type"] = int
    elif typing.get_origin(annotation) is typing.Literal:
        kwargs.update(choices=list(typing.get_args(annotation)), metavar=None)
    return kwargs


def add_stage(sub, spec: StageSpec) -> None:
    model = spec.config_model()
    parser = sub.add_parser(
        spec.name,
        help=spec.summary,
        description=spec.summary,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config keys (--set KEY=VALUE or YAML):\n" + help_table(model),
    )
    for option in spec.options:
        parser.add_argument(option.flag, help=option.help, **option.kwargs)
    for flag in spec.flags:
        parser.add_argument(flag.flag, dest=f"flag:{flag.key}", **flag_arguments(flag, model))
    parser.add_argument("--config", metavar="FILE", help="YAML config; keys as listed below.")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override one config key (repeatable), e.g. --set sampling.n=8.",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="Print the effective config (and every sub-stage's, for composites) as YAML and exit.",
    )
    add_verbose(parser, argparse.SUPPRESS)  # after the stage too; SUPPRESS keeps a --verbose given before it


VERBOSE_HELP = "Print the libraries' output (Ray, vLLM, MLflow...) here instead of in the run's log file."


def add_verbose(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--verbose", action="store_true", default=default, help=VERBOSE_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="overthink", description="Measure and cure overthinking in o1-like models, on Ray."
    )
    add_verbose(parser, False)
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for spec in STAGES.values():
        add_stage(sub, spec)
    return parser


def config_from_args(spec: StageSpec, args: argparse.Namespace):
    overrides = list(args.overrides)
    for flag in spec.flags:
        value = getattr(args, f"flag:{flag.key}")
        if value is not None:  # JSON is YAML: paths with quotes, colons or spaces survive
            overrides.append(f"{flag.key}={json.dumps(value)}")
    return load_config(spec.config_model(), args.config, overrides)


def effective_config(spec: StageSpec, config) -> str:
    """The stage's config and, for a composite, every sub-stage's exactly as it will be run."""
    text = config.to_yaml()
    planner = spec.planner()
    for name, sub in (planner(config) if planner else {}).items():
        text += f"---\n# {name}: the effective config this stage runs with\n" + yaml.safe_dump(
            sub.model_dump(mode="json"), sort_keys=False
        )
    return text


def preflight(config) -> None:
    """Checks that need no work done yet, so a run that cannot finish fails before it starts."""
    from overthink.runtime.config import Runtime
    from overthink.runtime.ray_init import cluster_address
    from overthink.runtime.tracking import check_store, require_shared_store

    if isinstance(config, Runtime):
        require_shared_store(config.mlflow, cluster_address(config.ray))
        check_store(config.mlflow)


def run_stage(spec: StageSpec, config, args: argparse.Namespace) -> None:
    """Run the stage and print its result; then end the Ray it started, so nothing of Ray's
    prints after the result and Ctrl-C leaves no instance behind."""
    from overthink.runtime.ray_init import ray_running, stop_ray

    ours = not ray_running()
    try:
        print(spec.runner()(config, **{option.dest: getattr(args, option.dest) for option in spec.options}), end="")
        sys.stdout.flush()
    finally:
        if ours:
            stop_ray()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    spec = STAGES[args.stage]
    log = None
    try:
        config = config_from_args(spec, args)
        if args.print_config:
            print(effective_config(spec, config), end="")
            return 0
        preflight(config)
        with routed(spec.name, getattr(config, "output_dir", None), args.verbose) as log:
            run_stage(spec, config, args)
        return 0
    except OverthinkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; run the same command again to resume.", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: one line here, the traceback in the log (with --verbose, here)
        if log is None:
            raise
        print(f"error: {type(err).__name__}: {err} (traceback in {log})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
