"""Submitter: turns closed batches into accepted tasks, never sending a file twice.

For each batch it chooses the taskId, writes the intent to the journal, then
POSTs. Any intent whose POST may have left (a crash, a timeout) is settled by
asking the server for that taskId first: adopted if it exists, sent again with
the same taskId if not. A refusal that retrying cannot fix splits the batch in
halves until the refused file is found; that file fails at stage ``submit``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from hrec_ingest import diskwork
from hrec_ingest.failpoints import failpoint
from hrec_ingest.journal import FileRow, FileState, Journal, NewFile, TaskState
from hrec_ingest.miaop import MiaopClient, UploadPart
from hrec_ingest.miaop.backoff import full_jitter
from hrec_ingest.miaop.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    MiaopError,
    NotFoundError,
    TlsError,
)
from hrec_ingest.pipeline.batcher import Batch
from hrec_ingest.pipeline.claims import Claims
from hrec_ingest.pipeline.delays import DelayQueue
from hrec_ingest.pipeline.layout import Folders
from hrec_ingest.pipeline.outcomes import Outcomes, error_doc
from hrec_ingest.pipeline.taskmeta import (
    new_task_id,
    render_task_name,
    task_metadata,
    upload_names,
)
from hrec_ingest.pipeline.watcher import Signature

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TenantProfile:
    """What the submitter needs of a tenant's settings."""

    name: str
    language: str
    task_name: str
    supervisor_email: str
    supervisor_name: str
    generic_additional_info: str | None


@dataclass(frozen=True, slots=True)
class SubmitTiming:
    concurrency: int
    poll_initial_delay: float
    retry_base: float
    retry_cap: float


def _signatures(paths: Sequence[Path]) -> list[Signature | None]:
    """Each file's signature now; None for one that is gone or unreadable."""
    found: list[Signature | None] = []
    for path in paths:
        try:
            found.append(Signature.of(os.lstat(path)))
        except OSError:
            found.append(None)
    return found


class _RetryLater(Exception):
    """The task could not be settled now; the submitter comes back to it after a delay."""


# A POST /hrec answered 404 or 405 means the URL has no upload endpoint at all
# (a wrong API_BASE_URL), not that a file is bad: no file fails for it.
_NO_UPLOAD_ENDPOINT = frozenset({404, 405})


class _NeedsOperator(_RetryLater):
    """Deferred until an operator fixes something (certificate, credentials, a URL)."""


class Submitter:
    """Closed batches (and journalled intents) in, accepted task ids out to the poller."""

    def __init__(
        self,
        journal: Journal,
        clients: Mapping[str, MiaopClient],
        tenants: Mapping[str, TenantProfile],
        folders: Folders,
        outcomes: Outcomes,
        claims: Claims,
        batches: asyncio.Queue[Batch],
        accepted: asyncio.Queue[str],
        timing: SubmitTiming,
    ) -> None:
        self.journal = journal
        self.clients = clients
        self.tenants = tenants
        self.folders = folders
        self.outcomes = outcomes
        self.claims = claims
        self.batches = batches
        self.accepted = accepted
        self.timing = timing
        self._work: DelayQueue[str] = DelayQueue()
        self._failures: dict[str, int] = {}
        self._busy: set[str] = set()

    async def run(self) -> None:
        for task in self.journal.tasks_in_state(TaskState.INTENT):
            self._work.put(task.task_id)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._intake_batches())
            for _ in range(self.timing.concurrency):
                group.create_task(self._worker())

    async def _intake_batches(self) -> None:
        while True:
            batch = await self.batches.get()
            task_id = new_task_id()
            profile = self.tenants[batch.tenant]
            files = [
                NewFile(
                    f.stable.tenant,
                    f.stable.rel_path,
                    f.size,
                    f.stable.signature.mtime_ns,
                    f.stable.signature.inode,
                    f.sha256,
                    f.audio,
                )
                for f in batch.files
            ]
            task_name = render_task_name(
                profile.task_name,
                tenant=batch.tenant,
                when=datetime.now(UTC),
                first_file=files[0].rel_path.rsplit("/", 1)[-1],
                count=len(files),
            )
            self.journal.create_intent(task_id, batch.tenant, batch.language, task_name, files)
            failpoint("after_intent")
            log.info("task.intent", tenant=batch.tenant, task_id=task_id, files=len(files))
            self._work.put(task_id)

    def busy(self) -> bool:
        """Whether an upload (or the settling of one) is under way."""
        return bool(self._busy)

    async def _worker(self) -> None:
        while True:
            task_id = await self._work.get()
            if task_id in self._busy:
                continue  # queued twice; the worker holding it settles it
            self._busy.add(task_id)
            try:
                await self.settle(task_id)
                self._failures.pop(task_id, None)
            except _RetryLater as exc:
                # An untrusted certificate or refused credentials wait for an operator.
                needs_operator = isinstance(exc, _NeedsOperator) or isinstance(
                    exc.__cause__, TlsError | AuthenticationError
                )
                self._schedule_retry(task_id, str(exc), needs_operator=needs_operator)
            except Exception as exc:
                # A bug met by one task must not stop the others; it is tried again later.
                log.exception("task.submit_crashed", task_id=task_id)
                self._schedule_retry(task_id, repr(exc))
            finally:
                self._busy.discard(task_id)

    def _schedule_retry(self, task_id: str, reason: str, *, needs_operator: bool = False) -> None:
        failures = self._failures.get(task_id, 0) + 1
        self._failures[task_id] = failures
        delay = max(1.0, full_jitter(failures, self.timing.retry_base, self.timing.retry_cap))
        report = log.error if needs_operator else log.warning
        report("task.submit_deferred", task_id=task_id, retry_in=round(delay, 1), reason=reason)
        self._work.put(task_id, delay)

    async def settle(self, task_id: str) -> None:
        """Bring one intent to an end: accepted, split, failed, or deferred (_RetryLater)."""
        task = self.journal.task(task_id)
        if task is None or task.state is not TaskState.INTENT:
            return
        client = self.clients[task.tenant]
        if task.post_attempts > 0 and await self._exists_on_server(client, task_id):
            self._accept(task_id, adopted=True)
            return
        rows = await self._drop_changed(task_id)
        if not rows:
            self.journal.set_task_state(task_id, TaskState.EMPTY)
            return
        await self._post(task_id, task.tenant, task.language, task.task_name, rows)

    async def _exists_on_server(self, client: MiaopClient, task_id: str) -> bool:
        try:
            await client.get_task(task_id)
        except NotFoundError:
            return False
        except MiaopError as exc:
            raise _RetryLater(f"cannot ask the server about this task: {exc}") from exc
        return True

    async def _drop_changed(self, task_id: str) -> list[FileRow]:
        """The intent's files that are still exactly as taken; the others leave the intent.

        Only called while the server has surely never seen this taskId, so
        changing the file list cannot make the server and journal disagree.
        """
        rows = [r for r in self.journal.files_of_task(task_id) if r.state is FileState.BATCHED]
        keep: list[FileRow] = []
        dropped: list[FileRow] = []
        # One thread hop for the whole batch: each hop costs more than the lstat itself.
        signatures = await diskwork.in_thread(
            _signatures, [self.folders.source(r.tenant, r.rel_path) for r in rows]
        )
        for row, current in zip(rows, signatures, strict=True):
            if current == Signature(row.size, row.mtime_ns, row.inode):
                keep.append(row)
            else:
                dropped.append(row)
        if dropped:
            self.journal.drop_files([r.id for r in dropped], "changed or vanished before sending")
            for row in dropped:
                log.info(
                    "file.dropped_from_batch",
                    tenant=row.tenant,
                    file=row.rel_path,
                    task_id=task_id,
                    reason="changed or vanished before sending",
                )
                self.claims.release((row.tenant, row.rel_path))
        return keep

    async def _post(
        self, task_id: str, tenant: str, language: str, task_name: str, rows: list[FileRow]
    ) -> None:
        profile = self.tenants[tenant]
        names = upload_names([r.rel_path for r in rows])
        parts = [
            UploadPart(self.folders.source(r.tenant, r.rel_path), name, r.size)
            for r, name in zip(rows, names, strict=True)
        ]
        metadata = task_metadata(
            task_id=task_id,
            tenant=tenant,
            task_name=task_name,
            language=language,
            file_names=names,
            supervisor_email=profile.supervisor_email,
            supervisor_name=profile.supervisor_name,
            generic_additional_info=profile.generic_additional_info,
            now=datetime.now(UTC),
        )
        self.journal.record_post_attempt(task_id, [r.id for r in rows])
        failpoint("before_post")
        client = self.clients[tenant]
        try:
            await client.submit_task(metadata, parts)
            failpoint("after_post")
        except ConflictError:
            # The taskId is ours and random: a 409 means an earlier attempt of this
            # very POST got through before its answer was lost.
            if not await self._exists_on_server(client, task_id):
                raise _RetryLater("server answered 409 but does not know the task") from None
            self._accept(task_id, adopted=True)
            return
        except AuthenticationError as exc:
            raise _RetryLater(str(exc)) from exc
        except ApiError as exc:
            if exc.retryable:
                raise _RetryLater(str(exc)) from exc
            if exc.status in _NO_UPLOAD_ENDPOINT:
                raise _NeedsOperator(
                    f"{exc} (check API_BASE_URL: the server has no upload endpoint there)"
                ) from exc
            await self._refused(task_id, rows, exc)
            return
        except MiaopError as exc:
            raise _RetryLater(str(exc)) from exc
        self._accept(task_id, adopted=False)

    def _accept(self, task_id: str, *, adopted: bool) -> None:
        self.journal.mark_submitted(task_id, time.time() + self.timing.poll_initial_delay)
        log.info("task.submitted", task_id=task_id, adopted=adopted)
        self.accepted.put_nowait(task_id)

    async def _refused(self, task_id: str, rows: list[FileRow], exc: ApiError) -> None:
        """Split a refused batch to find the file the server will not take."""
        if len(rows) > 1:
            half = len(rows) // 2
            parts = [
                (new_task_id(), [r.id for r in rows[:half]]),
                (new_task_id(), [r.id for r in rows[half:]]),
            ]
            self.journal.split_intent(task_id, parts)
            log.warning(
                "task.refused_split",
                task_id=task_id,
                status=exc.status,
                reason=exc.server_message,
                into=[p[0] for p in parts],
            )
            for new_id, _ in parts:
                self._work.put(new_id)
            return
        (row,) = rows
        self.journal.set_task_state(task_id, TaskState.REJECTED, error=exc.server_message)
        task = self.journal.task(task_id)
        doc = error_doc(
            row,
            stage="submit",
            name=f"Rejected{exc.status}",
            message=exc.server_message,
            task_id=task_id,
            attempts=task.post_attempts if task else 1,
        )
        await self.outcomes.fail(self.journal.require_file(row.id), doc)
