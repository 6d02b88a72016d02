"""The stage registry is the one declaration of a stage: CLI, help, jobs and docs follow from it;
composite stages wire their sub-stages in code and refuse wiring set inside their sections."""

import subprocess

import pytest
import yaml
from pydantic import Field

from locations import PYTHON, REPO
from overthink.cli import main
from overthink.config import Settings, load_config, wiring_of
from overthink.errors import ConfigError
from overthink.stages import STAGES, Flag, StageSpec

COMPOSITES = {"evaluate", "sweep", "pipeline"}


@pytest.mark.parametrize("name", sorted(set(STAGES) - {"organism", "quickstart"}))
def test_every_stage_has_a_thin_job_calling_it(name):
    job = (REPO / "jobs" / f"{name}.py").read_text()
    assert f'run("{name}")' in job and f"python jobs/{name}.py" in job
    assert len(job.splitlines()) <= 15


def test_jobs_have_no_stage_without_a_registry_row():
    assert {p.stem for p in (REPO / "jobs").glob("*.py")} - {"_entry"} <= set(STAGES)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_flag_names_a_documented_key_and_composites_plan(name):
    from overthink.config import field_at

    spec = STAGES[name]
    for flag in spec.flags:
        assert field_at(spec.config_model(), flag.key).description
    assert (spec.plan is not None) == (name in COMPOSITES)


@pytest.mark.parametrize(
    "stage,override,key",
    [
        ("pipeline", "sample.ray.num_cpus=2", "sample.ray"),
        ("pipeline", "analyze.tokenizer=/nope", "analyze.tokenizer"),
        ("pipeline", "train.model=x", "train.model"),
        ("pipeline", "evaluate.sample.output_dir=x", "evaluate.sample.output_dir"),
        ("evaluate", "analyze.input.path=x", "analyze.input"),
        ("sweep", "train.pairs=x", "train.pairs"),
    ],
)
def test_composites_refuse_wiring_inside_their_sections(stage, override, key):
    with pytest.raises(ConfigError, match=rf"key '{key}' is refused: .* is wiring that the {stage} passes"):
        load_config(STAGES[stage].config_model(), None, [override])


def test_pipeline_print_config_shows_every_sub_stage_as_it_will_run():
    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "overthink.cli",
            "pipeline",
            "--config",
            str(REPO / "configs/pipeline/organism.yaml"),
            "--print-config",
            "--set",
            "sample.sampling.n=2",
            "--set",
            "ray.num_cpus=2",
            "--output",
            "/data/run",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    pipeline, *stages = list(yaml.safe_load_all(result.stdout))
    assert pipeline["sample"]["sampling"]["n"] == 2 and "ray" not in pipeline["sample"]
    names = [line.split(":")[0][2:] for line in result.stdout.splitlines() if line.startswith("# ")]
    assert names == ["sample", "analyze", "pairs", "evaluate", "train", "evaluate"]
    sample, analyze, pairs, base, train, trained = stages
    assert (
        sample["sampling"]["n"] == 2 and sample["ray"]["num_cpus"] == 2 and sample["output_dir"] == "/data/run/samples"
    )
    assert analyze["input"]["path"] == ["/data/run/samples/samples.parquet"] and analyze["tokenizer"] == "organism"
    assert pairs["input"] == ["/data/run/analysis"] and train["pairs"] == "/data/run/pairs/pairs.parquet"
    assert all(s["ray"]["num_cpus"] == 2 for s in stages)
    assert trained["model"] == "/data/run/train/model" and trained["baseline"] == "/data/run/evaluate/base"
    assert trained["sample"]["sampling"] == base["sample"]["sampling"]


class ToySettings(Settings):
    """A trivial stage, to show that a registry row is all the CLI needs."""

    greeting: str = Field("hello", description="What to say.")


class ToyConfig(ToySettings):
    output_dir: str | None = Field(None, description="Where to write.")


wiring_of(ToyConfig, ToySettings)


def toy_cli(config: ToyConfig, shout: bool = False) -> str:
    text = f"{config.greeting} -> {config.output_dir}"
    return (text.upper() if shout else text) + "\n"


def test_a_new_stage_is_one_registry_row(monkeypatch, capsys):
    from overthink.stages import Option

    row = StageSpec(
        "toy",
        "A toy stage.",
        f"{__name__}:ToyConfig",
        f"{__name__}:toy_cli",
        flags=(Flag("--output", "output_dir", "DIR"),),
        options=(Option("--shout", "Shout.", {"action": "store_true"}),),
    )
    monkeypatch.setitem(STAGES, "toy", row)
    assert main(["toy", "--output", "o", "--set", "greeting=hi", "--shout"]) == 0
    assert capsys.readouterr().out == "HI -> O\n"
    assert main(["toy", "--set", "greting=hi"]) == 2
    assert "unknown key 'greting'" in capsys.readouterr().err
