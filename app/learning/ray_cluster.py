"""Running a job's heavy part on a Ray cluster: connect, submit, follow, fail clearly.

Ray is imported here, lazily, inside the functions: the core and the window
start without it, and only a job that was asked to run on a cluster pays for
importing it.

The pieces every remote job shares (scoring shards, a training run, the runs
of a simulation, and later any other job such as pretraining):

* :func:`ray_cluster` connects (``host:port`` of a running cluster, or
  ``local`` to start one for the job), ships this copy of Labelloop's code to
  the workers (Ray's ``py_modules``), and disconnects at the end;
* :func:`gather` follows submitted tasks as they finish (``ray.wait``),
  cancels them when the job is cancelled, and turns a cluster that went away
  into a clear :class:`ClusterLost` within seconds instead of a hang;
* :func:`run_remote_job` runs one function on one cluster worker (a GPU when
  the cluster has one) and streams its progress events back through a Ray
  queue. A new kind of job (pretraining) is one more function for it.

Ray itself retries a task whose worker process died (``max_retries``), so a
killed worker costs time, not results.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from app.project.workspace import WorkspaceError

LOCAL = "local"
# A task whose worker dies is run again up to this many times.
TASK_RETRIES = 3
# Connecting is refused after this long: "no cluster" is said in seconds.
CONNECT_TIMEOUT_S = 4.0
# How often a job checks that the cluster is still there while it waits.
LIVENESS_EVERY_S = 1.0
# An object store that fits beside the desktop's own work when `local`
# starts a cluster on this machine.
LOCAL_OBJECT_STORE_BYTES = 200 * 1024 * 1024
_ADDRESS = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")


class ClusterError(WorkspaceError):
    """The cluster could not be reached or could not run the job."""


class ClusterLost(ClusterError):
    """The cluster went away while the job ran."""


def check_address(text: str) -> str:
    """``text`` if it names a cluster (``host:port`` or ``local``), else a clear error.

    Raises
    ------
    ClusterError
        Anything else (a URL, a missing port, a port out of range).
    """
    value = text.strip()
    if value == LOCAL:
        return value
    match = _ADDRESS.match(value)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ClusterError(f"Ray address {text!r}: expected HOST:PORT of a running cluster's "
                           f"head (as `ray start --head --port PORT` printed) or {LOCAL!r}")
    return value


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether something accepts TCP connections at ``address`` (``host:port``)."""
    try:
        with socket.create_connection(_host_port(address), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class ClusterSession:
    """A connection to a cluster, for the length of one job."""

    address: str
    started_here: bool

    def alive(self) -> bool:
        """Whether the cluster's head still answers (always, for one started here)."""
        return self.started_here or reachable(self.address, timeout=2.0)

    def gpus(self) -> float:
        """GPUs in the whole cluster (0 when it has none)."""
        import ray

        return float(ray.cluster_resources().get("GPU", 0.0))

    def cpus(self) -> int:
        """CPUs in the whole cluster."""
        import ray

        return int(ray.cluster_resources().get("CPU", 0))


def _runtime_env() -> dict[str, Any]:
    """Ship this copy of the code, so workers run exactly what the desktop runs."""
    import app
    import models
    import sampling

    return {"py_modules": [app, models, sampling],
            "excludes": ["__pycache__", "*.pyc"]}


@contextlib.contextmanager
def ray_cluster(address: str, *, local_cpus: int | None = None,
                object_store_bytes: int = LOCAL_OBJECT_STORE_BYTES) -> Iterator[ClusterSession]:
    """Connect to the cluster at ``address`` for a block; disconnect after it.

    Parameters
    ----------
    address : str
        ``host:port`` of a running cluster's head, or ``"local"`` to start a
        cluster on this machine for the block (stopped after it).
    local_cpus : int, optional
        CPUs of a ``local`` cluster (default: all of this machine's).
    object_store_bytes : int
        Object store of a ``local`` cluster.

    Raises
    ------
    ClusterError
        Nothing answers at ``address`` (said within :data:`CONNECT_TIMEOUT_S`,
        where Ray itself would wait for minutes), or Ray refuses to connect.
    """
    address = check_address(address)
    started_here = address == LOCAL
    if not started_here and not reachable(address):
        raise ClusterError(f"no Ray cluster reachable at {address} (nothing answered within "
                           f"{CONNECT_TIMEOUT_S:.0f} s); start one with `ray start --head "
                           f"--port {_host_port(address)[1]}` or use --ray local")
    import ray

    if ray.is_initialized():  # a connection left by an earlier job in this process
        ray.shutdown()
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR,
                               "runtime_env": _runtime_env(), "namespace": "labelloop"}
    if started_here:
        options.update(num_cpus=local_cpus, object_store_memory=object_store_bytes,
                       include_dashboard=False, _node_ip_address="127.0.0.1")
    else:
        options["address"] = address
    with contextlib.ExitStack() as stack:
        if started_here:
            stack.enter_context(_job_token())
        with _keeping_sigterm():
            try:
                ray.init(**options)
            except Exception as exc:  # ConnectionError, RuntimeError, version mismatches...
                raise ClusterError(_connect_failure(address, exc)) from exc
        try:
            yield ClusterSession(address, started_here)
        finally:
            ray.shutdown()


@contextlib.contextmanager
def _job_token() -> Iterator[None]:
    """A cluster started for one job leaves no token file behind.

    Left to itself, Ray protects a new local cluster with a token it saves as
    ``~/.ray/auth_token`` for good; from then on every ``ray start --head``
    on this machine requires that token, which a client naming an address
    does not send, so the user's own clusters would stop accepting
    Labelloop (and any other client) after one ``--ray local`` job. The job's
    cluster runs on this machine for the job's length only, as Ray's local
    clusters did before tokens. An explicit ``RAY_AUTH_MODE`` is respected.
    """
    import os

    if "RAY_AUTH_MODE" in os.environ:
        yield
        return
    os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        yield
    finally:
        os.environ.pop("RAY_AUTH_MODE", None)


def _connect_failure(address: str, exc: BaseException) -> str:
    chain, cause = [], exc
    while cause is not None and len(chain) < 5:
        chain.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__
    text = " ".join(chain)
    if "Authentication" in text or "InvalidAuthToken" in text:
        return (f"the Ray cluster at {address} requires an authentication token: set "
                "RAY_AUTH_MODE=token and the cluster's token (RAY_AUTH_TOKEN, or the file "
                "~/.ray/auth_token), as for any Ray client")
    return f"cannot connect to the Ray cluster at {address}: {type(exc).__name__}: {exc}"


@contextlib.contextmanager
def _keeping_sigterm() -> Iterator[None]:
    # ray.init installs its own SIGTERM handler; a job's worker relies on its
    # own (SIGTERM = cancel), so it is put back.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def gather(
    session: ClusterSession,
    refs: Sequence[Any],
    on_result: Callable[[int, Any], None],
    should_stop: Callable[[], bool] | None = None,
    *,
    what: str = "task",
) -> None:
    """Follow ``refs`` until all are done, calling ``on_result(index, value)`` as each ends.

    Results arrive in completion order (``ray.wait``), so a caller can save
    each one at once and show progress.

    Raises
    ------
    ClusterLost
        The cluster's head stopped answering; the tasks still pending are lost.
    ClusterError
        A task failed for good (its worker died more than :data:`TASK_RETRIES`
        times, or it raised: the message carries the task's own error).
    models.training.TrainingCancelled
        ``should_stop()`` became true; the pending tasks are cancelled.
    """
    import ray
    from ray.exceptions import RayTaskError

    from models.training import TrainingCancelled

    index_of = {ref: i for i, ref in enumerate(refs)}
    pending = list(refs)
    last_check = time.monotonic()
    while pending:
        if should_stop is not None and should_stop():
            for ref in pending:
                ray.cancel(ref, force=True)
            raise TrainingCancelled(f"cancelled with {len(pending)} {what}(s) still running")
        done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
        for ref in done:
            try:
                value = ray.get(ref)
            except RayTaskError as exc:
                cause = exc.as_instanceof_cause() if hasattr(exc, "as_instanceof_cause") else exc
                if isinstance(cause, WorkspaceError):
                    raise cause from None
                raise ClusterError(f"a {what} failed on the cluster at {session.address}: "
                                   f"{_first_line(exc)}") from exc
            except Exception as exc:  # WorkerCrashedError after the retries, lost objects...
                raise ClusterError(f"a {what} failed on the cluster at {session.address}: "
                                   f"{type(exc).__name__}: {_first_line(exc)}") from exc
            on_result(index_of[ref], value)
        now = time.monotonic()
        if pending and now - last_check >= LIVENESS_EVERY_S:
            last_check = now
            # ray.wait would wait for ever on a cluster that is gone.
            if not session.alive():
                raise ClusterLost(
                    f"the Ray cluster at {session.address} went away with {len(pending)} of "
                    f"{len(refs)} {what}(s) unfinished; nothing was committed. Run the same "
                    "command again to resume (finished work is kept)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    # Ray's task errors end with the remote exception's own line.
    return lines[-1] if lines else type(exc).__name__


def task_options(session: ClusterSession, *, cpus: int = 1, gpu_if_any: bool = False
                 ) -> dict[str, Any]:
    """``.options(...)`` of a task: its CPUs, a GPU when asked and the cluster has one,
    and Ray's retries for a worker that dies."""
    options: dict[str, Any] = {"num_cpus": cpus, "max_retries": TASK_RETRIES,
                               "retry_exceptions": False}
    if gpu_if_any and session.gpus() >= 1:
        options["num_gpus"] = 1
    return options


def run_remote_job(
    address: str,
    function: Callable[..., Any],
    *args: Any,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    what: str = "job",
) -> Any:
    """Run ``function(*args, report=..., use_gpu=...)`` on one cluster worker; return its result.

    ``report(event: dict)`` inside the worker puts progress events on a Ray
    queue; here they are handed to ``progress`` as they come. ``use_gpu`` is
    true when the worker was given a GPU (the cluster has one), for the
    function to pick the device. Any job that is one function of plain
    arguments (training, pretraining) runs this way.

    Raises
    ------
    ClusterError, ClusterLost, models.training.TrainingCancelled
        As :func:`gather`.
    """
    return run_remote_tasks(address, function, [args], progress=progress,
                            should_stop=should_stop, what=what, gpu_if_any=True)[0]


def run_remote_tasks(
    address: str,
    function: Callable[..., Any],
    arguments: Sequence[tuple[Any, ...]],
    *,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_result: Callable[[int, Any], None] | None = None,
    what: str = "task",
    gpu_if_any: bool = False,
) -> list[Any]:
    """Run ``function(*args, report=..., use_gpu=...)`` for each ``args`` as parallel tasks.

    Results come back in the order of ``arguments`` (``on_result`` also sees
    each as it finishes); progress events of all tasks share one queue.
    """
    import ray
    from ray.util.queue import Empty, Queue

    results: dict[int, Any] = {}
    with ray_cluster(address) as session:
        events = Queue(maxsize=1000)
        options = task_options(session, gpu_if_any=gpu_if_any)
        remote = ray.remote(_reporting).options(**options)
        refs = [remote.remote(function, events, "num_gpus" in options, *args)
                for args in arguments]

        def drain() -> None:
            while progress is not None:
                try:
                    progress(events.get_nowait())
                except Empty:
                    return

        def stop_or_drain() -> bool:
            drain()
            return bool(should_stop and should_stop())

        def keep(index: int, value: Any) -> None:
            drain()  # a task's last events before its result
            results[index] = value
            if on_result is not None:
                on_result(index, value)

        gather(session, refs, keep, stop_or_drain, what=what)
        drain()
    return [results[i] for i in range(len(arguments))]


def _reporting(function: Callable[..., Any], events: Any, use_gpu: bool, *args: Any) -> Any:
    """The body of a remote job: ``function`` with a ``report`` that feeds the queue."""

    def report(event: dict[str, Any]) -> None:
        # A full queue (nobody reading) must not stall the job: drop the event.
        with contextlib.suppress(Exception):
            events.put_nowait(event)

    return function(*args, report=report, use_gpu=use_gpu)
