"""The do-not-send list: no call sends an erased person's data to CDP, nor keeps its answer.

`cdp.client` asks `guard` before each call about one person's record (a consumer, a guest, a
guest's orders). A write that names an erased ref (the record, or a guest it links to) is
refused before anything is sent. A read of an erased ref is made only to confirm that CDP no
longer holds the record: its answer is dropped and `CDPErased` raised either way, so the caller
has nothing to show or store; so is a record that links to an erased guest (a trip of theirs the
back office never knew of).
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from cdp.errors import CDPErased, CDPError, CDPNotFound
from cdp.links import ref_from_link
from cdp.models import ErasedRef

# Inside `preloaded()`: the whole list, read once, for calls made in threads without a database.
_preloaded: ContextVar[dict[str, ErasedRef] | None] = ContextVar("erased_refs", default=None)


@contextmanager
def preloaded() -> Iterator[None]:
    """Read the do-not-send list once for the calls made inside (and in threads run in copies
    of this context, `contextvars.copy_context`), which then ask no database.

    The list holds refs only, a few bytes per erased person, so reading it whole is cheap next
    to the CDP calls it guards.
    """
    if _preloaded.get() is not None:
        yield
        return
    rows = ErasedRef.objects.only("ref", "kind", "erased_at", "ticket")
    token = _preloaded.set({row.ref: row for row in rows})
    try:
        yield
    finally:
        _preloaded.reset(token)


def erased(refs: Iterable[str]) -> dict[str, ErasedRef]:
    """Return the erased refs among `refs`, with when and under which ticket."""
    wanted = {ref for ref in refs if ref}
    if not wanted:
        return {}
    known = _preloaded.get()
    if known is not None:
        return {ref: known[ref] for ref in wanted if ref in known}
    return {row.ref: row for row in ErasedRef.objects.filter(ref__in=wanted)}


def _linked_guest(body: dict[str, Any] | None) -> str:
    guest = (body or {}).get("guest")
    return (ref_from_link(guest) or "") if isinstance(guest, dict) else ""


def _said(row: ErasedRef) -> str:
    kind = row.get_kind_display().lower()
    return (
        f"This {kind} ({row.ref}) belongs to a person who was erased on "
        f"{row.erased_at:%Y-%m-%d} (ticket {row.ticket})"
    )


def guard(
    call: Callable[[], dict[str, Any]],
    *,
    ref: str,
    body: dict[str, Any] | None = None,
    confirm: bool = True,
) -> dict[str, Any]:
    """Make `call` about `ref`, unless it concerns an erased person; then raise CDPErased.

    A write (`body`) is never sent. A read is sent only when `confirm`, to learn whether CDP
    still holds the record; what it answers is not returned.
    """
    found = erased([ref, _linked_guest(body)])
    if not found:
        data = call()
        # A record of an erased guest that the back office never knew of (CDP deletes within a
        # day): known by its link, and dropped like the others.
        guest = erased([_linked_guest(data)]) if body is None else {}
        if guest:
            row = next(iter(guest.values()))
            raise CDPErased(f"{_said(row)}, and {ref} is theirs: nothing of it was shown or kept.")
        return data
    row = found.get(ref) or next(iter(found.values()))
    error: CDPError
    if body is not None:
        error = CDPErased(f"{_said(row)}: nothing of theirs is sent to CDP.")
    elif not confirm:
        error = CDPErased(f"{_said(row)}: CDP was not asked.")
    else:
        try:
            call()
        except CDPNotFound:
            error = CDPErased(f"{_said(row)}; CDP confirms that it no longer holds the record.")
        except CDPError as failure:
            error = CDPErased(
                f"{_said(row)}; whether CDP still holds the record is unknown ({failure})."
            )
        else:
            error = CDPErased(
                f"{_said(row)}; CDP still holds the record (a deletion can take up to 24 hours "
                "to show), but nothing of it was shown or kept."
            )
    error.attempts = 0 if body is not None or not confirm else 1
    raise error
