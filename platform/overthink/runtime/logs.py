"""Where a command's output goes: its progress bars and result lines on the terminal, the
libraries' chatter (Ray, vLLM, MLflow, transformers, warnings...) in one log file, unless
`--verbose`.

Quiet mode, for the length of one command (`routed`):
- the log file is `<output_dir>/logs/overthink-<stage>-<time>.log` (`./logs/` for stages without
  an output folder); its path is printed once, first;
- native output (Ray's C++ lines, anything a child process inherits) goes there: file
  descriptor 2 points at the log, while `sys.stderr` keeps writing to the terminal;
- Python logging: library loggers lose their terminal handlers and propagate to one file
  handler on the root logger; warnings are logged (`py.warnings`); MLflow is told not to set up
  its own handler. Libraries imported later are swept again when Ray starts (`sweep_loggers`);
- Ray workers' output (every actor's and task's stdout and stderr) is written to the log
  instead of the terminal (`capture_worker_output`); a worker's failure still ends the command
  with one `error:` line, as the stages turn worker exceptions into one.
Everything is put back when the command ends."""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from overthink.errors import OverthinkError
from overthink.runtime.outputs import holds

OURS = "overthink"  # our loggers keep their handlers
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_ENV = {"MLFLOW_CONFIGURE_LOGGING": "false"}  # MLflow's handler would bind to the terminal


@dataclass
class Route:
    path: Path
    log: TextIO
    terminal: TextIO  # sys.stderr while routed
    handler: logging.Handler  # the root logger's file handler
    saved_stderr: TextIO
    saved_fd: int  # the terminal's descriptor, put back on 2 at the end
    capture_was_off: bool  # logging.captureWarnings was off before
    env: dict  # QUIET_ENV keys as they were
    loggers: dict = field(default_factory=dict)  # logger -> (removed handlers, its propagate before)


_route: Route | None = None


def log_path(stage: str, output_dir: str | Path | None) -> Path:
    folder = Path(output_dir) / "logs" if output_dir else Path("logs")
    return folder / f"overthink-{stage}-{time.strftime('%Y%m%d-%H%M%S')}.log"


@contextmanager
def routed(stage: str, output_dir: str | Path | None, verbose: bool = False) -> Iterator[Path | None]:
    """Route output for one command; yields the log file's path (None with `verbose`). An error
    leaves its traceback in the log before it goes on to the caller."""
    if verbose or _route is not None:
        yield None
        return
    path = log_path(stage, output_dir)
    created = [folder for folder in (path.parent, path.parent.parent) if not folder.exists()]
    route = _open(path)
    try:
        print(f"log: {route.path} (library output; --verbose prints it here)", file=route.terminal, flush=True)
        yield route.path
    except OverthinkError:
        _close(route)
        if output_dir and not holds(Path(output_dir)):  # refused before it took the folder: leave no trace
            path.unlink(missing_ok=True)
            for folder in created:
                _remove_if_empty(folder)
        raise
    except Exception:
        route.log.write(traceback.format_exc())
        raise
    finally:
        if _route is route:
            _close(route)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty, or gone already
        pass


def _open(path: Path) -> Route:
    global _route
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "a", buffering=1, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
    except OSError as err:
        raise OverthinkError(f"cannot write the log file {path}: {err.strerror or err}") from None
    stderr = sys.stderr
    stderr.flush()
    saved_fd = os.dup(2)
    terminal = stderr
    if _writes_to_fd2(stderr):  # the process's own stderr: Python's writes keep the terminal
        terminal = open(  # noqa: SIM115 (closed in _close)
            saved_fd, "w", buffering=1, encoding=stderr.encoding, errors="backslashreplace", closefd=False
        )
    os.dup2(log.fileno(), 2)
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(FORMAT))
    env = {key: os.environ.get(key) for key in QUIET_ENV}
    capture_was_off = getattr(logging, "_warnings_showwarning", None) is None
    _route = Route(path, log, terminal, handler, stderr, saved_fd, capture_was_off, env)
    os.environ.update({key: value for key, value in QUIET_ENV.items() if env[key] is None})
    sys.stderr = terminal
    logging.root.addHandler(handler)
    logging.captureWarnings(True)
    sweep_loggers()
    return _route


def _writes_to_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # pytest's capture, StringIO: not the descriptor
        return False


def _close(route: Route) -> None:
    global _route
    _route = None
    for logger, (handlers, propagate) in route.loggers.items():
        for handler in handlers:
            logger.addHandler(handler)
        logger.propagate = propagate
    logging.root.removeHandler(route.handler)
    if route.capture_was_off:
        logging.captureWarnings(False)
    for key, value in route.env.items():
        if value is None:
            os.environ.pop(key, None)
    route.terminal.flush()
    sys.stderr = route.saved_stderr
    os.dup2(route.saved_fd, 2)
    if route.terminal is not route.saved_stderr:
        route.terminal.close()  # closefd=False: the descriptor is closed next
    os.close(route.saved_fd)
    route.log.close()


def sweep_loggers() -> None:
    """Send every library logger that writes to the terminal to the log instead (ours stay)."""
    route = _route
    if route is None:
        return
    loggers = [logging.root] + [
        logger
        for name, logger in list(logging.root.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and name.split(".")[0] != OURS
    ]
    for logger in loggers:
        console = [h for h in logger.handlers if _to_terminal(h) and h is not route.handler]
        if not console:
            continue
        removed, propagate = route.loggers.setdefault(logger, ([], logger.propagate))
        for handler in console:
            logger.removeHandler(handler)
            removed.append(handler)
        logger.propagate = True


def _to_terminal(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)


# Ray workers' output reaches the driver through Ray's log monitor, which hands each batch of
# lines to the handlers of a dispatcher (ray.init(log_to_driver=True) adds the one that prints).
PRINT_HANDLER = "ray_print_logs"


def capture_worker_output() -> None:
    """After ray.init: workers' lines go to the log while output is routed (idempotent)."""
    dispatcher = _dispatcher()
    with dispatcher._lock:
        for index, (name, handler) in enumerate(dispatcher.handlers):
            if name == PRINT_HANDLER and not isinstance(handler, WorkerLines):
                dispatcher.handlers[index] = (name, WorkerLines(handler))


def _dispatcher():
    from overthink.runtime.ray_internals import worker_stdstream_dispatcher

    return worker_stdstream_dispatcher()  # a Ray that moved it fails loudly, naming it


class WorkerLines:
    """A dispatcher handler: while output is routed, a batch of worker lines goes to the log
    (with the actor or task and pid Ray prints); otherwise to Ray's own printer. Lines that
    arrive after a routed command ended (the raylet's word on workers killed at shutdown) go to
    that command's log too, not to the terminal under its last line."""

    def __init__(self, ray_printer):
        self.ray_printer = ray_printer
        self.last_log: Path | None = None  # the log of the routed command this handler served

    def __call__(self, data: dict) -> None:
        route = _route
        if route is None and self.last_log is None:
            self.ray_printer(data)
            return
        lines, pid = data.get("lines", []), data.get("pid")
        if pid == "autoscaler":  # its status every 5 s: only the events, as Ray's printer does
            from overthink.runtime.ray_internals import filter_autoscaler_events

            lines = filter_autoscaler_events(lines)
        who = data.get("actor_name") or data.get("task_name") or ""
        prefix = f"({who} pid={pid}) " if pid not in ("raylet", "autoscaler") else f"({pid}) "
        text = [f"{prefix}{line}\n" for line in lines]
        if route is not None:
            self.last_log = route.path
            try:
                route.log.writelines(text)
                return
            except ValueError:  # closed by the command's end while Ray still delivered lines
                pass
        try:
            with open(self.last_log, "a", encoding="utf-8", errors="backslashreplace") as log:
                log.writelines(text)
        except OSError:
            pass
