"""Refreshing many consumers from CDP in the background, with progress the page can show.

A `BulkRefresh` is created with one `BulkRefreshItem` per ref, then run by the tasks worker in
small chunks: each chunk is read from CDP concurrently (`consumers_download`), saved, and counted
on the job, so the page that polls it sees the bar move. A cancel request is honoured between
chunks; a job the worker dropped half way can be run again and picks up the refs still waiting.
"""

import csv
import io
import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from cdp.errors import CDPError
from cdp.links import is_ref, parse_link
from consumers.models import BulkRefresh, BulkRefreshItem, sees_everyones_work
from consumers.services import consumers_refresh
from consumers.tasks import bulk_refresh_run_task
from core.logging import error_summary
from core.spreadsheets import csv_cell
from core.tasks import task_enqueue

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

logger = logging.getLogger(__name__)
Result = BulkRefreshItem.Result

# Refs come one per line, or separated by commas, semicolons, tabs or spaces (a pasted column or
# row of a spreadsheet both work).
_SEPARATORS = re.compile(r"[\s,;]+")


def refs_parse(text: str) -> list[str]:
    """Return the refs in pasted text (bare refs or CDP links), in order, each once.

    Raises ValidationError naming the first few entries that are neither.
    """
    refs, bad = [], []
    for token in _SEPARATORS.split(text):
        token = token.strip().strip("\"'")
        if not token:
            continue
        collection, ref = parse_link(token) or ("orderConsumers", token)
        if collection == "orderConsumers" and is_ref(ref):
            refs.append(ref)
        else:
            bad.append(token[:80])
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        entries = (
            "1 entry is not an order consumer ref or a link to one"
            if len(bad) == 1
            else (f"{len(bad)} entries are not order consumer refs or links to one")
        )
        raise ValidationError(f"{entries}: {shown}.")
    return list(dict.fromkeys(refs))


def refs_from_csv(data: bytes) -> list[str]:
    """Return the consumer refs in an uploaded CSV file: every cell that holds one, any column.

    A header row and other columns (names, notes) are ignored, so an export from elsewhere can be
    uploaded as it is.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text; save it as CSV (UTF-8).") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    refs = []
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        for row in reader:
            for cell in row:
                cell = cell.strip()
                collection, ref = parse_link(cell) or ("orderConsumers", cell)
                if collection == "orderConsumers" and is_ref(ref):
                    refs.append(ref)
    except csv.Error:
        # A NUL character, or a cell over the csv module's field limit (128 KB, far longer than
        # any ref or link), which a quote left open also makes.
        raise ValidationError(
            f"Line {reader.line_num} of the file could not be read as CSV: it holds a NUL "
            "character, a quote left open or a cell of more than 128 KB. Save it as CSV (UTF-8) "
            "again, or paste the refs."
        ) from None
    if not refs:
        raise ValidationError("The file holds no order consumer refs.")
    return list(dict.fromkeys(refs))


def bulk_refresh_start(*, user: User, refs: list[str]) -> BulkRefresh:
    """Create the job and its items, and queue it for the worker."""
    limit = settings.BULK_REFRESH_MAX_REFS
    if not refs:
        raise ValidationError("Give at least one order consumer ref.")
    if len(refs) > limit:
        raise ValidationError(
            f"{len(refs)} refs is more than one bulk refresh takes ({limit}); split the list."
        )
    with transaction.atomic():
        job = BulkRefresh.objects.create(user=user, total=len(refs))
        BulkRefreshItem.objects.bulk_create(
            [BulkRefreshItem(job=job, consumer_ref=ref) for ref in refs], batch_size=1000
        )
        # Commits together with the job, or is queued once it has (core/tasks.py).
        task_enqueue(bulk_refresh_run_task, job.pk)
    logger.info("bulk refresh queued", extra={"job": job.pk, "refs": len(refs)})
    return job


def bulk_refresh_get(*, job_id: int, user: User) -> BulkRefresh:
    """Return the job if the user started it or is a supervisor; else raise Http404.

    Another agent's refresh answers as if it did not exist: its refs and CDP's messages are theirs.
    """
    return get_object_or_404(BulkRefresh.objects.visible_to(user).select_related("user"), pk=job_id)


def bulk_refreshes_listed(*, user: User) -> tuple[list[BulkRefresh], list[BulkRefresh]]:
    """Return the user's last refreshes and, for a supervisor, everyone else's still going.

    Supervisors may cancel anyone's refresh: they see every one still going, to find it.
    """
    mine = list(BulkRefresh.objects.filter(user=user)[:10])
    others: list[BulkRefresh] = []
    if sees_everyones_work(user):
        going = [BulkRefresh.Status.QUEUED, BulkRefresh.Status.RUNNING]
        others = list(
            BulkRefresh.objects.filter(status__in=going)
            .exclude(user=user)
            .select_related("user")[:50]
        )
    return mine, others


def bulk_refresh_run(*, job_id: int) -> BulkRefresh | None:
    """Refresh the job's waiting consumers chunk by chunk, counting as it goes."""
    started = BulkRefresh.objects.filter(
        pk=job_id, status__in=[BulkRefresh.Status.QUEUED, BulkRefresh.Status.RUNNING]
    ).update(status=BulkRefresh.Status.RUNNING, progressed_at=timezone.now())
    if not started:
        return None  # cancelled before it started, or already over
    chunk_size = max(1, settings.CDP_CONCURRENCY * 2)
    while True:
        job = BulkRefresh.objects.get(pk=job_id)
        if job.cancel_requested:
            return _cancel_now(job)
        items = list(job.items.filter(result=Result.WAITING).order_by("id")[:chunk_size])
        if not items:
            break
        refs = [item.consumer_ref for item in items]
        try:
            _, failed = consumers_refresh(refs=refs)
        except CDPError as error:  # no usable connection: every ref of the chunk fails alike
            failed = dict.fromkeys(refs, error)
        for item in items:
            failure = failed.get(item.consumer_ref)
            item.result = Result.FAILED if failure else Result.REFRESHED
            item.error = str(failure) if failure else ""
        with transaction.atomic():
            BulkRefreshItem.objects.bulk_update(items, ["result", "error"])
            # Counted from the items rather than added to, so a job run twice (recovered while
            # its first worker was only slow) still counts each consumer once.
            over = BulkRefreshItem.objects.filter(job_id=job_id).exclude(result=Result.WAITING)
            BulkRefresh.objects.filter(pk=job_id).update(
                done=_count(over),
                failed=_count(over.filter(result=Result.FAILED)),
                progressed_at=timezone.now(),
            )
        for ref, failure in failed.items():
            logger.info(
                "bulk refresh: consumer not refreshed",
                extra={"job": job_id, "consumer_ref": ref, "error": error_summary(failure)},
            )
    BulkRefresh.objects.filter(pk=job_id, status=BulkRefresh.Status.RUNNING).update(
        status=BulkRefresh.Status.FINISHED, finished_at=timezone.now()
    )
    job = BulkRefresh.objects.get(pk=job_id)
    logger.info(
        "bulk refresh finished", extra={"job": job_id, "done": job.done, "failed": job.failed}
    )
    return job


def _count(items: QuerySet[BulkRefreshItem]) -> Coalesce:
    """How many of `items` there are, as an expression for an update."""
    counted = items.order_by().values("job_id").annotate(n=Count("id")).values("n")[:1]
    return Coalesce(Subquery(counted), 0)


def bulk_refresh_requeue_stalled() -> int:
    """Queue again the jobs whose worker died (or whose task was lost); return how many.

    A running job moves at least once per chunk, and a chunk is bounded by CDP's time budgets, so
    one that has not moved for BULK_REFRESH_STALL_SECONDS has lost its worker. Running it again
    refreshes only the refs still waiting.
    """
    stale = timezone.now() - timedelta(seconds=settings.BULK_REFRESH_STALL_SECONDS)
    stalled = (
        BulkRefresh.objects.filter(
            status__in=[BulkRefresh.Status.QUEUED, BulkRefresh.Status.RUNNING]
        )
        .alias(moved_at=Coalesce("progressed_at", "created_at"))
        .filter(moved_at__lt=stale)
        .values_list("pk", flat=True)
    )
    for job_id in stalled:
        with transaction.atomic():
            # Moved on so the next cron run leaves it alone while the new task waits its turn.
            BulkRefresh.objects.filter(pk=job_id).update(progressed_at=timezone.now())
            task_enqueue(bulk_refresh_run_task, job_id)
        logger.info("bulk refresh queued again", extra={"job": job_id})
    return len(stalled)


def _cancel_now(job: BulkRefresh) -> BulkRefresh:
    with transaction.atomic():
        job.items.filter(result=Result.WAITING).update(result=Result.SKIPPED)
        BulkRefresh.objects.filter(pk=job.pk).update(
            status=BulkRefresh.Status.CANCELLED, finished_at=timezone.now()
        )
    logger.info("bulk refresh cancelled", extra={"job": job.pk, "done": job.done})
    job.refresh_from_db()
    return job


def bulk_refresh_cancel(*, job: BulkRefresh) -> bool:
    """Ask the job to stop; one not started yet stops at once. False if it was already over."""
    asked = BulkRefresh.objects.filter(
        pk=job.pk, status__in=[BulkRefresh.Status.QUEUED, BulkRefresh.Status.RUNNING]
    ).update(cancel_requested=True)
    if not asked:
        return False
    # A queued job would only notice when the worker reaches it: stop it here instead.
    if BulkRefresh.objects.filter(pk=job.pk, status=BulkRefresh.Status.QUEUED).exists():
        _cancel_now(job)
    job.refresh_from_db()
    return True


def bulk_refresh_failures_csv(*, job: BulkRefresh, out: "SupportsWrite[str]") -> None:
    """Write the refs that could not be refreshed, with CDP's reason, as CSV."""
    writer = csv.writer(out)
    writer.writerow(["consumer_ref", "error"])
    failures = job.items.filter(result=Result.FAILED).order_by("id")
    for ref, error in failures.values_list("consumer_ref", "error").iterator():
        writer.writerow([csv_cell(ref), csv_cell(error)])
