"""A stage's progress, shown twice: a bar on the terminal and `progress/*` metrics in its MLflow
run (at the run's bounded rate), so a long cluster job can be watched from the UI."""

from __future__ import annotations

import time


class Progress:
    """`update(n, **more)` after each finished piece of work: moves the bar and reports `name`
    (items done), `name`_per_s (since this command started) and any `more` metrics to `run`,
    with the items done as the step."""

    def __init__(self, run, name: str, total: int, initial: int = 0, desc: str = "", unit: str = "it"):
        from tqdm.auto import tqdm

        self.run, self.name, self.total = run, name, total
        self.bar = tqdm(total=total, initial=initial, unit=unit, desc=desc or name, dynamic_ncols=True)
        self.started, self.initial = time.monotonic(), initial

    @property
    def done(self) -> int:
        return self.bar.n

    def update(self, n: int, **more: float) -> None:
        self.bar.update(n)
        rate = (self.done - self.initial) / max(time.monotonic() - self.started, 1e-9)
        self.run.progress(
            self.done, {self.name: self.done, f"{self.name}_per_s": rate, **more}, final=self.done >= self.total
        )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
