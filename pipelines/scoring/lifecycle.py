"""How a scoring run ends when it is stopped: SIGTERM, SIGKILL, or a dead parent.

- SIGTERM (a scheduler's stop): the job raises `StoppedError` in its main thread, so the usual
  clean-up runs: workers killed, temporary files removed, no output renamed into place; the
  command line then exits with 143 (128 + SIGTERM) and a one-line message.
- SIGKILL of the job: nothing can run in it. Each worker watches its parent process and exits
  when it is gone (`exit_with_job`); the fork server then sees its last client go and exits.
  The run's temporary directories carry its PID and host, and the next run in the same
  directory removes those of runs that are no longer alive (`run_directory`).
Standard library only: the workers import it before anything else.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

from pipelines.errors import LeadscoreError

logger = logging.getLogger(__name__)

EXIT_STOPPED = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM
STOPPED = "stopped by SIGTERM: workers stopped, temporary files removed, no output written"
RUN_PREFIX = ".score-"
# .score-<pid>-<host>-<random>: the owner's PID and host, so a later run knows whether it lives
RUN_DIRECTORY = re.compile(r"\.score-(?P<pid>\d+)-(?P<host>.*)-[a-z0-9_]{8}")
_OWN_DIRECTORIES: set[Path] = set()  # this process's runs in progress (runs in threads)


class StoppedError(LeadscoreError):
    """The job got SIGTERM: stopped, nothing written."""

    exit_code = EXIT_STOPPED


class SigtermStop:
    """SIGTERM handler raising `StoppedError` once in the main thread, until `disarm` is called."""

    def __init__(self) -> None:
        self.armed = True
        self.received = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if not self.armed or self.received:  # clean-up under way, or the job is finishing
            return
        self.received = True
        raise StoppedError(STOPPED)

    def disarm(self) -> None:
        """From here the run completes: a SIGTERM must not leave half of its files renamed."""
        self.armed = False


@contextmanager
def stop_on_sigterm() -> Iterator[SigtermStop]:
    """SIGTERM raises `StoppedError` in the block (main thread only; elsewhere it is left alone)."""
    stop = SigtermStop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield stop
    except Exception as exc:
        if stop.received and not isinstance(exc, StoppedError):  # e.g. py4j wraps it in its own
            raise StoppedError(STOPPED) from exc
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_with_job() -> None:
    """Initializer of the worker processes: exit as soon as the job's process is gone.

    A worker waits for its tasks on a pipe that it holds open itself, so it would never see a
    killed job's end. A thread waits on the parent's sentinel (a pipe the parent alone holds
    open, readable when it dies) and ends the worker; SIGTERM takes its default action again
    (a worker forked from the job inherits the job's handler).
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = multiprocessing.parent_process()
    if parent is not None:
        watcher = threading.Thread(target=_exit_after, args=(parent,), name="exit-with-job")
        watcher.daemon = True
        watcher.start()


def _exit_after(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()  # returns when the parent's sentinel closes: the job has exited or was killed
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_run_directories(parent: Path) -> list[Path]:
    """Remove the temporary directories in `parent` of runs on this host that are gone."""
    host = socket.gethostname()
    removed = []
    for path in parent.glob(f"{RUN_PREFIX}*"):
        match = RUN_DIRECTORY.fullmatch(path.name)
        if match is None or match["host"] != host or not path.is_dir():
            continue
        pid = int(match["pid"])
        if path in _OWN_DIRECTORIES:
            continue
        if pid == os.getpid() or not _alive(pid):  # our PID: a dead run's, reused (containers)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        logger.info("removed %d temporary directories of stopped runs in %s", len(removed), parent)
    return removed


class RunFiles:
    """This run's temporary directories, one per directory it writes to, removed with `stack`.

    Each is named with the run's PID and host (`RUN_DIRECTORY`): files renamed into place from
    there stay on one file system, and what a killed run leaves behind is removed by the next.
    """

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._directories: dict[Path, Path] = {}

    def directory(self, parent: Path) -> Path:
        """The run's temporary directory in `parent` (created, after the stale ones went)."""
        key = parent.absolute()
        if key not in self._directories:
            key.mkdir(parents=True, exist_ok=True)
            remove_stale_run_directories(key)
            prefix = f"{RUN_PREFIX}{os.getpid()}-{socket.gethostname()}-"
            created = Path(tempfile.mkdtemp(prefix=prefix, dir=key))
            _OWN_DIRECTORIES.add(created)
            self._stack.callback(_OWN_DIRECTORIES.discard, created)
            self._stack.callback(shutil.rmtree, created, ignore_errors=True)
            self._directories[key] = created
        return self._directories[key]
