"""Handing items to annotators working at once: leases, in SQL.

An item is *free* for an annotator when it has no current label and no
lease of someone else that is still alive.  :func:`claim_items` leases the
first ``k`` free items of a ranked candidate list:

* On PostgreSQL the free rows are picked with ``SELECT ... FOR UPDATE SKIP
  LOCKED`` in the candidates' order (``unnest ... WITH ORDINALITY``), so a
  second annotator claiming at the same moment skips the rows the first is
  taking instead of waiting for them or taking them too.
* On SQLite the write transaction is ``BEGIN IMMEDIATE``: claims from
  several processes of one machine run one after another.
* On both, the lease row is written with ``INSERT ... ON CONFLICT DO UPDATE
  ... WHERE`` the old lease expired or is the claimer's own, and only rows
  that statement returns count as claimed.  That is the guarantee; the row
  locks only keep claimers from queueing behind each other.  (Under READ
  COMMITTED a row whose lock was released by a commit can be picked by a
  statement whose snapshot predates that commit; the conditional upsert
  sees the committed lease and refuses it.)

Expiry times are epoch seconds from the claiming desktop's clock, so the
desktops of a team need their clocks in step (NTP), as any lease does.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Integer, bindparam, delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement

from app.domain.timestamps import utc_now
from app.store.tables import annotations, leases, samples

# Candidates examined per statement on SQLite (under its parameter limit).
_CHUNK = 500


def _labeled(sample_id: ColumnElement) -> ColumnElement[bool]:
    """The item's newest annotation carries a class (it is labeled now)."""
    newer = annotations.alias("newer")
    return exists().where(
        annotations.c.sample_id == sample_id, annotations.c.class_id.is_not(None),
        ~exists().where(newer.c.sample_id == annotations.c.sample_id,
                        newer.c.id > annotations.c.id))


def _leased_by_other(sample_id: ColumnElement) -> ColumnElement[bool]:
    return exists().where(leases.c.sample_id == sample_id,
                          leases.c.expires_at > bindparam("now"),
                          leases.c.annotator != bindparam("annotator"))


def _free(sample_id: ColumnElement) -> ColumnElement[bool]:
    return ~_labeled(sample_id) & ~_leased_by_other(sample_id)


_ORDERED = func.unnest(bindparam("ids", type_=postgresql.ARRAY(Integer))) \
    .table_valued("id", with_ordinality="pos").render_derived()
# PostgreSQL: the first k free candidates in rank order, rows others are
# claiming right now skipped.
_PG_FREE_IN_ORDER = (
    select(samples.c.id)
    .join(_ORDERED, _ORDERED.c.id == samples.c.id)
    .where(_free(samples.c.id))
    .order_by(_ORDERED.c.pos)
    .limit(bindparam("k"))
    # NO KEY UPDATE: a label being written (its foreign key share-locks the
    # item row) neither blocks a claim nor is skipped by one.
    .with_for_update(of=samples, skip_locked=True, key_share=True)
)
_SQLITE_FREE = select(samples.c.id).where(
    samples.c.id.in_(bindparam("ids", expanding=True)), _free(samples.c.id))


def _lease_statement(dialect: str):  # noqa: ANN202 - a dialect's Insert
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(leases).values(
        sample_id=bindparam("sample_id"), annotator=bindparam("annotator"),
        claimed_at=bindparam("claimed_at"), expires_at=bindparam("expires_at"))
    return stmt.on_conflict_do_update(
        index_elements=[leases.c.sample_id],
        set_={"annotator": stmt.excluded.annotator, "claimed_at": stmt.excluded.claimed_at,
              "expires_at": stmt.excluded.expires_at},
        where=(leases.c.expires_at <= bindparam("now"))
        | (leases.c.annotator == stmt.excluded.annotator),
    ).returning(leases.c.sample_id)


_LEASE = {"postgresql": _lease_statement("postgresql"), "sqlite": _lease_statement("sqlite")}


def _free_in_order(conn: Connection, dialect: str, candidates: Sequence[int], k: int,
                   annotator: str, now: float) -> list[int]:
    if dialect == "postgresql":
        return list(conn.execute(_PG_FREE_IN_ORDER, {"ids": list(candidates), "k": k,
                                                      "annotator": annotator, "now": now})
                    .scalars())
    found: list[int] = []
    for start in range(0, len(candidates), _CHUNK):
        chunk = list(candidates[start : start + _CHUNK])
        free = set(conn.execute(_SQLITE_FREE, {"ids": chunk, "annotator": annotator,
                                               "now": now}).scalars())
        found += [sid for sid in chunk if sid in free]
        if len(found) >= k:
            break
    return found[:k]


def claim_items(conn: Connection, dialect: str, candidates: Sequence[int], annotator: str,
                k: int, lease_s: float, now: float) -> dict[int, float]:
    """Lease up to ``k`` free items of ``candidates`` (in their order); ``{id: expires_at}``.

    Items the annotator already holds count as free for them: their lease
    is renewed.  Runs in the caller's write transaction ``conn``.
    """
    expires = now + lease_s
    claimed: dict[int, float] = {}
    remaining = [int(c) for c in dict.fromkeys(candidates)]
    while remaining and len(claimed) < k:
        picked = _free_in_order(conn, dialect, remaining, k - len(claimed), annotator, now)
        if not picked:
            break
        for sid in picked:
            row = conn.execute(_LEASE[dialect], {
                "sample_id": sid, "annotator": annotator, "claimed_at": utc_now(),
                "expires_at": expires, "now": now}).first()
            if row is not None:
                claimed[sid] = expires
        taken = set(picked)
        remaining = [c for c in remaining if c not in taken]
    return claimed


def release(conn: Connection, sample_ids: Sequence[int], annotator: str) -> int:
    """Drop ``annotator``'s leases on ``sample_ids`` (labeled, or handed back)."""
    result = conn.execute(delete(leases).where(leases.c.sample_id.in_(list(sample_ids)),
                                               leases.c.annotator == annotator))
    return int(result.rowcount)


def active_leases(conn: Connection, now: float) -> list[tuple[int, str, float]]:
    """``(sample_id, annotator, expires_at)`` of every lease still alive, by sample id."""
    return [tuple(r) for r in conn.execute(
        select(leases.c.sample_id, leases.c.annotator, leases.c.expires_at)
        .where(leases.c.expires_at > now).order_by(leases.c.sample_id))]


def count_active_leases(conn: Connection, now: float, other_than: str | None = None) -> int:
    stmt = select(func.count()).select_from(leases).where(leases.c.expires_at > now)
    if other_than is not None:
        stmt = stmt.where(leases.c.annotator != other_than)
    return int(conn.execute(stmt).scalar())
