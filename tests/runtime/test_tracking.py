"""MLflow never costs a stage its result: user values stay out of search filters, a tracking server
that does not answer fails the command at once, one lost mid-run costs a warning."""

import subprocess
import time

import pytest

from locations import EXAMPLES, PYTHON
from overthink.runtime.config import MlflowConfig
from overthink.runtime.tracking import MODEL_DIR_TAG, stage_run, training_run_of
from raycluster import free_port, mlflow_server


def test_a_train_run_is_found_by_a_model_folder_with_quotes(mlflow_store, tmp_path):
    config = MlflowConfig(experiment="quotes-test")
    folder = str(tmp_path / 'it\'s "the" model')
    with stage_run(config, "train", output=tmp_path / "it's") as run:
        run.set_tags({MODEL_DIR_TAG: folder})
    with stage_run(config, "train") as other:
        other.set_tags({MODEL_DIR_TAG: str(tmp_path / "another")})
    assert training_run_of(folder, config) == run.id
    assert training_run_of(str(tmp_path / "nothing"), config) is None


def test_an_unreachable_tracking_server_fails_before_any_work_naming_it(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    output = tmp_path / "out"
    command = [PYTHON, "-m", "overthink.cli", "analyze", "--input", str(EXAMPLES), "--output", str(output)]
    started = time.monotonic()
    done = subprocess.run(
        [*command, "--no-ray", "--set", f"mlflow.tracking_uri={uri}"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: mlflow: the tracking server {uri} does not answer (ConnectionError); start it (`mlflow server "
        "--backend-store-uri sqlite:///PATH/mlflow.db --artifacts-destination SHARED_PATH --host 0.0.0.0 --port "
        "5000`), fix mlflow.tracking_uri / MLFLOW_TRACKING_URI, or set mlflow.enabled=false"
    ]
    assert time.monotonic() - started < 60 and not output.exists()  # no work, no logs/ folder


def test_a_tracking_server_lost_mid_run_costs_a_warning_not_the_result(tmp_path, capsys):
    config = MlflowConfig(experiment="lost-server", system_metrics=False)
    with mlflow_server(tmp_path / "mlflow") as uri:
        run_context = stage_run(config.model_copy(update={"tracking_uri": uri}), "analyze")
        run = run_context.__enter__()
        run.log_params({"a": 1})
    # the server is gone (its process group stopped) while the run is open
    started = time.monotonic()
    run.log_metrics({"m": 1.0})
    first_failure = time.monotonic() - started
    run.progress(1, {"rows": 1}, final=True)
    run.log_artifact(__file__)
    run_context.__exit__(None, None, None)
    assert first_failure < 30 and time.monotonic() - started < first_failure + 2  # later calls are skipped
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: MLflow")]
    assert len(warnings) == 1 and uri in warnings[0] and "writes its outputs" in warnings[0], warnings


@pytest.mark.parametrize("status", [401, 403])
def test_a_server_that_refuses_us_is_named_with_the_fix(status):
    """MLflow >= 3.5 answers 403 to a Host it does not allow, while /health still passes."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from overthink.errors import ConfigError
    from overthink.runtime.tracking import check_store

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ConfigError, match=rf"refuses requests \(HTTP {status}\).*--allowed-hosts"):
            check_store(MlflowConfig(tracking_uri=f"http://127.0.0.1:{server.server_address[1]}"))
    finally:
        server.shutdown()
