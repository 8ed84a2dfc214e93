"""The answers export on two cores: a second process reads the campaign and makes the rows
(bot/desk/answers.py `produce`: queries, decoding, formatting, and a history kept apart
written to its CSV file) while this one hands them to openpyxl, whose cell-by-cell work is
most of an export's time.

The second process is `python -m bot.desk.elsewhere`, a fresh interpreter (a forked copy of
a running event loop and its database connections is not safe, and multiprocessing's
"spawn" would re-run the caller's main script). It reads its job — the Storage's `reopen`
and the export's `Job`, pickled — from its standard input and writes frames to its standard
output: a 4-byte length and a pickled (kind, payload). The rows cross in batches (a chunk of
agencies, or of submissions' history); the pipe's buffer is the only queue, so the maker
waits while the writer is behind and memory stays bounded by a batch. What the second
process would print goes to its standard error, kept in a temporary file and logged (debug)
by this side only when it fails: an administrator never sees a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import queue
import struct
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any, BinaryIO

from bot.desk.answers import Job, Made, Receiver, Row, produce
from storage.repository import Reopen, Storage

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
_KILL_AFTER_S = 10.0  # how long an abandoned second process is given to end by itself
ROOT = Path(__file__).resolve().parent.parent.parent  # the folder holding bot/, flows/…


class ExportFailed(RuntimeError):
    """The second process of an export failed; the message says how (no traceback)."""


# -- the second process -------------------------------------------------------------------


class _Sender:
    """The receiver in the second process: each batch pickled here and written as a frame
    by a thread of its own, so making the rows never waits for the writer to catch up —
    the history kept apart is written meanwhile. What waits in the queue is the pickled
    rows (~1 KB an agency: 5 MB for 5,000); the history sheet's batches, larger, are sent
    one at a time (`wait` True)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.queue: queue.Queue[bytes | None] = queue.Queue()
        self.failed: BaseException | None = None
        self.thread = threading.Thread(target=self._write, name="export-frames", daemon=True)
        self.thread.start()

    def _write(self) -> None:
        while True:
            data = self.queue.get()
            try:
                if data is None:
                    return
                if self.failed is None:  # once the reader is gone, the rest is dropped
                    self.out.write(_LENGTH.pack(len(data)))
                    self.out.write(data)
                    self.out.flush()
            except BaseException as e:
                self.failed = e
            finally:
                self.queue.task_done()

    def send(self, kind: str, payload: Any, wait: bool = False) -> None:
        """Queue one frame; `wait`: return once every queued frame is written. Raises
        BrokenPipeError once the other side has stopped reading."""
        if self.failed is not None:
            raise BrokenPipeError("the export's first process stopped reading")
        self.queue.put(pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL))
        if wait:
            self.queue.join()

    def close(self) -> None:
        """Everything queued written (or the reader gone), the thread ended."""
        self.queue.put(None)
        self.thread.join()

    def rows(self, batch: list[tuple[str, Row]]) -> None:
        self.send("rows", batch)

    def answers_done(self) -> None:
        self.send("answers_done", None)

    def history(self, batch: list[list[Any]]) -> None:
        self.send("history", batch, wait=True)


async def _produce_here(reopen: Reopen, job: Job, sender: _Sender) -> Made:
    storage = await reopen.open()
    try:
        return await produce(storage, job, sender)
    finally:
        await storage.close()


def main() -> int:
    """The second process's body: makes the rows, then sends ("end", Made) — or ("oserror",
    (errno, text, file)) / ("error", (summary, traceback)) when it fails."""
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever else writes to standard output lands on standard error
    sender = _Sender(frames)
    try:
        # from the process that started this one, over an anonymous pipe: trusted
        reopen, job = pickle.load(sys.stdin.buffer)  # noqa: S301
        sender.send("end", asyncio.run(_produce_here(reopen, job, sender)))
    except BrokenPipeError:  # the writer stopped reading: nothing to tell
        return 1
    except OSError as e:
        sender.send("oserror", (e.errno, e.strerror or str(e), e.filename))
        return 1
    except Exception as e:
        sender.send("error", (f"{type(e).__name__}: {e}", traceback.format_exc()))
        return 1
    finally:
        sender.close()
    return 0


# -- this side ----------------------------------------------------------------------------


async def produce_elsewhere(storage: Storage, job: Job, out: Receiver) -> Made:
    """`produce(storage, job, out)` run in a second process, `out` called here with each
    batch as it arrives. Raises OSError when the second process could not write the
    history file, ExportFailed when it failed otherwise or ended without finishing."""
    if storage.reopen is None:
        raise ValueError("this database cannot be opened by a second process")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryFile() as errors:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.desk.elsewhere",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            env=env,
            limit=2**20,
        )
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(pickle.dumps((storage.reopen, job)))
            await proc.stdin.drain()
            proc.stdin.close()
            made = await _receive(proc.stdout, out)
        except BaseException as e:
            if proc.returncode is None:  # this side failed (or was cancelled): stop it
                proc.kill()
            await proc.wait()
            if isinstance(e, ExportFailed):
                errors.seek(0)
                said = errors.read().decode(errors="replace")
                log.debug("answers export, second process's output: %s", said)
            raise
        try:  # it has sent "end": it is ending
            await asyncio.wait_for(proc.wait(), _KILL_AFTER_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        return made


async def _receive(frames: asyncio.StreamReader, out: Receiver) -> Made:
    handlers = {
        "rows": out.rows,
        "answers_done": lambda _: out.answers_done(),
        "history": out.history,
    }
    while True:
        try:
            (size,) = _LENGTH.unpack(await frames.readexactly(_LENGTH.size))
            # from the process this one started, over an anonymous pipe: trusted
            kind, payload = pickle.loads(await frames.readexactly(size))  # noqa: S301
        except asyncio.IncompleteReadError:
            raise ExportFailed("the export's second process ended without finishing") from None
        if kind == "end":
            made: Made = payload
            return made
        if kind == "oserror":
            errno, text, filename = payload
            raise OSError(errno, text, filename)
        if kind == "error":
            summary, trace = payload
            log.debug("answers export: the second process failed:\n%s", trace)
            raise ExportFailed(summary)
        handlers[kind](payload)


if __name__ == "__main__":
    sys.exit(main())
