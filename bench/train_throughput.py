"""Training throughput under Ray Train on this machine, in one run: SimPO vs DPO (no reference
model vs one) and DeepSpeed ZeRO-2 vs plain DDP, each on the same corpus pairs and model.
Prints TRL's train samples/s (the training loop only; Ray and worker start-up excluded) and the
ratios.

    .venv/bin/python bench/train_throughput.py [--model PATH] [--steps 30] [--workers 2]
"""

import argparse
import statistics
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="organism", help="Model folder; `organism` = the cached model organism.")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1, help="Runs per setting (the median is shown).")
    args = parser.parse_args()

    import mlflow

    from overthink.config import load_config
    from overthink.organism.samples import corpus_pairs
    from overthink.runtime.models import resolve_model
    from overthink.train.config import TrainConfig
    from overthink.train.stage import run_train

    model = resolve_model(args.model).path
    work = Path(tempfile.mkdtemp(prefix="train-bench-"))
    mlflow_uri = f"sqlite:///{work / 'mlflow.db'}"
    pairs = corpus_pairs(model, work / "data", problems=200, per_problem=4)
    settings = {"simpo-ddp": ["loss=simpo"], "dpo-ddp": ["loss=dpo"], "simpo-zero2": ["loss=simpo", "deepspeed=zero2"]}
    speed = {}
    for name, overrides in settings.items():
        runs = []
        for repeat in range(args.repeats):
            config = load_config(
                TrainConfig,
                None,
                [
                    f"pairs={pairs}",
                    f"model={model}",
                    f"output_dir={work / name / str(repeat)}",
                    f"max_steps={args.steps}",
                    f"per_device_batch_size={args.batch_size}",
                    "max_length=1024",
                    f"save_steps={args.steps}",
                    f"placement.count={args.workers}",
                    "learning_rate=1e-4",
                    f"mlflow.tracking_uri={mlflow_uri}",
                    "mlflow.experiment=train-bench",
                    *overrides,
                ],
            )
            result = run_train(config)
            runs.append(mlflow.MlflowClient(mlflow_uri).get_run(result.run_id).data.metrics["train_samples_per_second"])
        speed[name] = statistics.median(runs)
        print(f"{name}: {speed[name]:.2f} pairs/s (runs: {', '.join(f'{r:.2f}' for r in runs)})", flush=True)
    print(f"\nSimPO / DPO throughput: {speed['simpo-ddp'] / speed['dpo-ddp']:.2f}x (both DDP, {args.workers} workers)")
    print(f"ZeRO-2 / DDP throughput: {speed['simpo-zero2'] / speed['simpo-ddp']:.2f}x (SimPO, {args.workers} workers)")


if __name__ == "__main__":
    main()
