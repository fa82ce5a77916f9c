"""Handing items to annotators working at once: leases, in SQL.

An item needs ``needed`` annotators: 1 usually, k for the items of the
overlap set (several annotators label them independently, for agreement).
It is *free* for an annotator when they have not labeled it and fewer than
``needed`` others hold a live lease or gave a label (for ``needed`` = 1:
it has no current label and no live lease of someone else).
:func:`claim_items` leases the first ``k`` free items of a ranked list:

* On PostgreSQL the rows are picked with ``SELECT ... FOR NO KEY UPDATE SKIP
  LOCKED`` in the candidates' order (``unnest ... WITH ORDINALITY``), so a
  second annotator claiming at the same moment skips the rows the first is
  taking instead of waiting for them or taking them too.  The picked rows
  are then checked again by a *new* statement: under READ COMMITTED the
  first statement's snapshot may predate a claim that committed just before
  the row lock was granted; every claimer locks the row before leasing, so
  the second statement sees every lease that could compete.
* On SQLite the write transaction is ``BEGIN IMMEDIATE``: claims from
  several processes of one machine run one after another.

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


def _other_leases(sample_id: ColumnElement) -> ColumnElement:
    return (select(func.count()).select_from(leases)
            .where(leases.c.sample_id == sample_id, leases.c.expires_at > bindparam("now"),
                   leases.c.annotator != bindparam("annotator")).scalar_subquery())


def _voters(sample_id: ColumnElement) -> ColumnElement:
    """How many annotators gave the item a class (undo rows are no vote)."""
    return (select(func.count(annotations.c.annotator.distinct()))
            .where(annotations.c.sample_id == sample_id, annotations.c.class_id.is_not(None),
                   annotations.c.undoes_id.is_(None)).scalar_subquery())


def _voted_by_me(sample_id: ColumnElement) -> ColumnElement[bool]:
    return exists().where(annotations.c.sample_id == sample_id,
                          annotations.c.annotator == bindparam("annotator"),
                          annotations.c.class_id.is_not(None),
                          annotations.c.undoes_id.is_(None))


def _free(sample_id: ColumnElement, needed: int) -> ColumnElement[bool]:
    if needed <= 1:
        return ~_labeled(sample_id) & (_other_leases(sample_id) == 0)
    return ~_voted_by_me(sample_id) & (_voters(sample_id) + _other_leases(sample_id) < needed)


def _pg_free_in_order(needed: int):  # noqa: ANN202 - a Select
    ordered = func.unnest(bindparam("ids", type_=postgresql.ARRAY(Integer))) \
        .table_valued("id", with_ordinality="pos").render_derived()
    return (
        select(samples.c.id)
        .join(ordered, ordered.c.id == samples.c.id)
        .where(_free(samples.c.id, needed))
        .order_by(ordered.c.pos)
        .limit(bindparam("k"))
        # NO KEY UPDATE: a label being written (its foreign key share-locks the
        # item row) neither blocks a claim nor is skipped by one.
        .with_for_update(of=samples, skip_locked=True, key_share=True)
    )


def _free_among(needed: int):  # noqa: ANN202 - a Select
    return select(samples.c.id).where(samples.c.id.in_(bindparam("ids", expanding=True)),
                                      _free(samples.c.id, needed))


def _lease_statement(dialect: str):  # noqa: ANN202 - a dialect's Insert
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(leases).values(
        sample_id=bindparam("sample_id"), annotator=bindparam("annotator"),
        claimed_at=bindparam("claimed_at"), expires_at=bindparam("expires_at"))
    return stmt.on_conflict_do_update(
        index_elements=[leases.c.sample_id, leases.c.annotator],
        set_={"claimed_at": stmt.excluded.claimed_at, "expires_at": stmt.excluded.expires_at})


_LEASE = {"postgresql": _lease_statement("postgresql"), "sqlite": _lease_statement("sqlite")}


def _pick(conn: Connection, dialect: str, candidates: Sequence[int], k: int,
          annotator: str, now: float, needed: int) -> tuple[list[int], list[int]]:
    """``(looked at, free)``: candidates examined, and the free ones among them in order."""
    params = {"annotator": annotator, "now": now}
    if dialect == "postgresql":
        locked = list(conn.execute(_pg_free_in_order(needed),
                                   {**params, "ids": list(candidates), "k": k}).scalars())
        if not locked:
            return list(candidates), []
        # Checked again in a new snapshot, now that the rows are ours.
        free = set(conn.execute(_free_among(needed), {**params, "ids": locked}).scalars())
        return locked, [sid for sid in locked if sid in free]
    found: list[int] = []
    looked: list[int] = []
    for start in range(0, len(candidates), _CHUNK):
        chunk = list(candidates[start : start + _CHUNK])
        looked += chunk
        free = set(conn.execute(_free_among(needed), {**params, "ids": chunk}).scalars())
        found += [sid for sid in chunk if sid in free]
        if len(found) >= k:
            break
    return looked, found[:k]


def claim_items(conn: Connection, dialect: str, candidates: Sequence[int], annotator: str,
                k: int, lease_s: float, now: float, needed: int = 1) -> dict[int, float]:
    """Lease up to ``k`` free items of ``candidates`` (in their order); ``{id: expires_at}``.

    ``needed`` is how many annotators each candidate is for (see the module).
    Items the annotator already holds count as free for them: their lease
    is renewed.  Runs in the caller's write transaction ``conn``.
    """
    expires = now + lease_s
    claimed: dict[int, float] = {}
    remaining = [int(c) for c in dict.fromkeys(candidates)]
    while remaining and len(claimed) < k:
        looked, free = _pick(conn, dialect, remaining, k - len(claimed), annotator, now, needed)
        for sid in free:
            conn.execute(_LEASE[dialect], {"sample_id": sid, "annotator": annotator,
                                           "claimed_at": utc_now(), "expires_at": expires})
            claimed[sid] = expires
        if not looked:
            break
        seen = set(looked)
        remaining = [c for c in remaining if c not in seen]
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
