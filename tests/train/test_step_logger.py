"""A worker's failed MLflow log is a warning, never a training failure."""

import logging
from types import SimpleNamespace

from overthink.train.loop import mlflow_step_logger


def test_an_unreachable_tracking_server_warns_once_and_training_goes_on(monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    callback = mlflow_step_logger("http://127.0.0.1:1", "no-such-run")
    state = SimpleNamespace(is_world_process_zero=True, global_step=1)
    with caplog.at_level(logging.WARNING, logger="overthink.train"):
        for step in (1, 2, 3):
            state.global_step = step
            callback.on_log(None, state, None, logs={"loss": 0.5, "learning_rate": 1e-4})
    warnings = [r for r in caplog.records if "MLflow: cannot log step" in r.getMessage()]
    assert len(warnings) == 1 and "run no-such-run at http://127.0.0.1:1" in warnings[0].getMessage()
