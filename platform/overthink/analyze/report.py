"""Tables in the paper's Table 1 layout (CSV and Markdown) and PNG plots of a metrics summary."""

from __future__ import annotations

import csv
import io
from pathlib import Path

TABLE_COLUMNS = (
    "Dataset",
    "Model",
    "N",
    "Acc",
    "Solutions",
    "Tokens",
    "Outcome Eff.",
    "Process Eff.",
    "+Solutions",
    "+Tokens",
    "Truncated",
)


def percent_or_dash(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def number_or_dash(value, digits=1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table_rows(metrics: dict, model_name: str) -> list[list[str]]:
    groups = list(metrics["by_dataset"].items())
    if len(groups) != 1:
        groups.append(("all", metrics["overall"]))
    return [
        [
            name,
            model_name,
            str(s["responses"]),
            percent_or_dash(s["accuracy"]),
            number_or_dash(s["mean_solutions"]),
            number_or_dash(s["mean_tokens"]),
            percent_or_dash(s["outcome_efficiency"]),
            percent_or_dash(s["process_efficiency"]),
            number_or_dash(s["additional_solutions"]),
            number_or_dash(s["additional_tokens"]),
            percent_or_dash(s["truncated_rate"]),
        ]
        for name, s in groups
    ]


def table_csv(metrics: dict, model_name: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(TABLE_COLUMNS)
    writer.writerows(table_rows(metrics, model_name))
    return buffer.getvalue()


def table_markdown(metrics: dict, model_name: str) -> str:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(metrics, model_name)]
    return "\n".join(lines) + "\n"


def write_plots(rows: list[dict], metrics: dict, folder: Path) -> list[Path]:
    """solutions per response, first-correct position, distinctness by position, tokens."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    analyzed = [r for r in rows if r["num_solutions"] is not None]
    overall = metrics["overall"]
    figures = {
        "solutions_per_response.png": (
            "hist",
            [r["num_solutions"] for r in analyzed],
            "solutions per response",
            "responses",
        ),
        "first_correct_position.png": (
            "bar",
            overall["first_correct_position"],
            "position of the first correct solution",
            "share of responses",
        ),
        "distinctness_by_position.png": (
            "bar",
            overall["distinctness_by_position"],
            "solution position",
            "distinctness ratio",
        ),
        "tokens_per_response.png": ("hist", [r["num_tokens"] for r in analyzed], "tokens per response", "responses"),
    }
    written = []
    for name, (kind, data, xlabel, ylabel) in figures.items():
        fig, ax = plt.subplots(figsize=(6, 4))
        if kind == "hist" and data:
            bins = range(1, max(data) + 2) if "solutions" in name else 30
            ax.hist(data, bins=bins, color="#4C72B0", edgecolor="white", align="left" if "solutions" in name else "mid")
        elif kind == "bar" and data:
            ax.bar([int(k) for k in data], list(data.values()), color="#4C72B0")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(name.removesuffix(".png").replace("_", " "))
        fig.tight_layout()
        fig.savefig(folder / name, dpi=100)
        plt.close(fig)
        written.append(folder / name)
    return written
