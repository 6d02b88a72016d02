"""The analyze stage: split responses into solutions, grade them, judge distinctness, and compute
the paper's efficiency metrics. Pure cores here; the Ray Data adapter lives in `ray_adapter`."""
