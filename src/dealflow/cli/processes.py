"""Start the web server and the worker as child processes and stop them together (`dealflow run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence


def default_bind() -> str:
    """DEALFLOW_BIND, else 127.0.0.1 on PORT (8000)."""
    return os.environ.get("DEALFLOW_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"


def default_web_workers() -> int:
    return int(os.environ.get("WEB_CONCURRENCY", "2"))


def default_web_threads() -> int:
    """Threads per web worker (DEALFLOW_WEB_THREADS, 8 by default)."""
    return max(1, int(os.environ.get("DEALFLOW_WEB_THREADS", "8")))


def gunicorn_command(*, bind: str, workers: int, threads: int | None = None) -> list[str]:
    """gunicorn serving config.wsgi; whitenoise in the middleware serves the static files.

    Threaded workers (gthread): a slow client holds one thread, not a whole worker. With the sync
    worker, two clients sending their request slowly held both workers and /healthz waited 19 s
    (issue #13); with 2 workers x 8 threads it takes sixteen. The proxy in front buffers requests and
    limits slow ones (docs/deploy.md); keep-alive connections are closed after 5 idle seconds.
    """
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads or default_web_threads()),
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        "--keep-alive",
        "5",
        "--limit-request-line",
        "8190",
        "--limit-request-fields",
        "100",
    ]


def worker_command() -> list[str]:
    return [sys.executable, "-m", "dealflow.cli", "worker"]


class _Stop(Exception):
    pass


def _raise_stop(signum, frame) -> None:
    raise _Stop


def children_run(commands: Sequence[Sequence[str]], *, grace_seconds: float = 10.0) -> int:
    """Run the commands side by side until one ends or we get Ctrl-C / SIGTERM; then stop them all.

    Ctrl-C in a terminal reaches the children too (same process group); SIGTERM sent only to us is
    passed on. Returns the exit status of the child that ended first (0 after a stop request).
    """
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    processes = [subprocess.Popen(list(command)) for command in commands]  # noqa: S603 - our own argv
    status = 0
    try:
        while True:
            ended = [process for process in processes if process.poll() is not None]
            if ended:
                status = ended[0].returncode or 0
                break
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        status = 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_all(processes, grace_seconds)
    return status


def _stop_all(processes: list[subprocess.Popen], grace_seconds: float) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
