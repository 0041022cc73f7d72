"""One member across platforms: one-time link codes, merging two members, unlinking.

Flow: ``/link`` in a private chat issues a code for that account (:func:`issue_code`);
``/link CODE`` sent privately from an account on another platform redeems it
(:func:`redeem_code`), which merges the redeeming account's member into the issuer's.

Merging (:func:`merge_members`)
-------------------------------
The issuer's member survives. Every column in the schema that references ``members.id``
is found by walking ``Base.metadata`` and re-pointed from the dropped member to the kept
one, so tables added by other modules follow without this module knowing them. Where a
unique key (primary key, unique constraint or unique index) containing that column would
collide, the dropped member's row is deleted after:

* module hooks with ``before_merge(session, keep_id, drop_id)`` (see
  :mod:`engine.members.privacy`) have folded their per-member state into the kept row
  (``after_merge(session, keep_id)`` hooks run at the end to rebuild derived caches),
* core memberships (one row per community and member) are folded: earliest join,
  latest activity, still present if either was, highest role, opted out if either was.

Self-targeted interactions the merge creates (A replied to B, now A == B) are removed:
the recorder never logs those, and they would credit a member for helping themselves.

Unlinking (:func:`unlink_account`)
----------------------------------
The account moves to a new member; all history (messages, interactions, points, roles)
stays with the original member, because after a merge nobody can tell which account
produced which row without per-row provenance. The new member starts empty.

This module is itself a privacy hook module (codes and failures of the member's accounts).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Table, delete, exists, func, select, update
from sqlalchemy.orm import Session

from engine.members import privacy as hooks_of
from engine.members.privacy import PrivacyHook
from engine.members.refs import affected, member_refs
from engine.members.tables import LinkCode, LinkFailure
from engine.refusal import Refusal
from engine.store.models import Account, AuditEntry, CommunityMember, Interaction, Member

name = "linking"

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed safely
CODE_LENGTH = 8  # 31**8 ≈ 8.5e11 codes; with the rate limit a guess is hopeless
CODE_TTL = timedelta(minutes=10)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=1)


class LinkStatus(StrEnum):
    LINKED = "linked"
    WRONG = "wrong"  # no such code
    EXPIRED = "expired"
    USED = "used"
    SELF = "self"  # both accounts already belong to the same member
    SAME_PLATFORM = "same_platform"  # the merge would give one member two accounts on a platform
    RATE_LIMITED = "rate_limited"
    UNKNOWN_ACCOUNT = "unknown_account"


@dataclass(frozen=True, slots=True)
class LinkResult:
    """Outcome of :func:`redeem_code`; ``keep_id``/``drop_id`` are set when linked."""

    status: LinkStatus
    keep_id: int | None = None
    drop_id: int | None = None
    platforms: tuple[str, ...] = ()  # the merged member's platforms, when linked


class LinkError(Refusal):
    """An unlink that cannot be done; ``reason`` is a short machine word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def normalise_code(raw: str) -> str:
    """Upper-case, without spaces or dashes (people paste codes as ``ABCD-EFGH``)."""
    return "".join(ch for ch in raw.upper() if ch not in " -_")


def hash_code(code: str) -> str:
    """The stored form of a code: SHA-256 hex of its normalised text."""
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def issue_code(session: Session, account_id: int, *, now: datetime) -> str:
    """A new one-time code for ``account_id``, valid for :data:`CODE_TTL`; returns it.

    Earlier unused codes of the account are voided (one live code per account) and
    expired codes of everyone are purged.
    """
    session.execute(delete(LinkCode).where(LinkCode.account_id == account_id, LinkCode.used_at.is_(None)))
    # Used and expired codes are kept a day so a late "/link CODE" can say "expired".
    session.execute(delete(LinkCode).where(LinkCode.expires_at < now - timedelta(days=1)))
    session.execute(delete(LinkFailure).where(LinkFailure.at < now - FAILURE_WINDOW))
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        digest = hash_code(code)
        if session.execute(select(exists().where(LinkCode.code_hash == digest))).scalar_one():
            continue
        session.add(LinkCode(code_hash=digest, account_id=account_id, created_at=now, expires_at=now + CODE_TTL))
        session.flush()
        return code


def failures_in_window(session: Session, account_id: int, *, now: datetime) -> int:
    """Wrong, expired or reused codes this account sent within :data:`FAILURE_WINDOW`."""
    return int(
        session.execute(
            select(func.count()).where(LinkFailure.account_id == account_id, LinkFailure.at > now - FAILURE_WINDOW)
        ).scalar_one()
    )


def void_code(session: Session, code: str, *, now: datetime) -> bool:
    """Mark a code used without linking (it was shown in public); True if it was live."""
    return bool(
        affected(
            session,
            update(LinkCode)
            .where(LinkCode.code_hash == hash_code(code), LinkCode.used_at.is_(None), LinkCode.expires_at > now)
            .values(used_at=now),
        )
    )


def _platforms(session: Session, member_id: int) -> set[str]:
    return {str(p) for p in session.execute(select(Account.platform).where(Account.member_id == member_id)).scalars()}


def redeem_code(session: Session, account_id: int, code: str, *, now: datetime,
                hooks: Sequence[PrivacyHook] = ()) -> LinkResult:
    """Redeem ``code`` from ``account_id``: merge that account's member into the issuer's
    (``hooks``: the capabilities' privacy hooks, which fold their per-member state).

    Never raises for a bad code: the failure is recorded (for the rate limit) in the
    caller's transaction and the status says what was wrong, so the caller must commit
    for failures too. Raises only on database errors.
    """
    redeemer = session.get(Account, account_id)
    if redeemer is None:
        return LinkResult(LinkStatus.UNKNOWN_ACCOUNT)
    if failures_in_window(session, account_id, now=now) >= MAX_FAILURES:
        return LinkResult(LinkStatus.RATE_LIMITED)

    def fail(status: LinkStatus) -> LinkResult:
        session.add(LinkFailure(account_id=account_id, at=now))
        session.flush()
        return LinkResult(status)

    row = session.execute(select(LinkCode).where(LinkCode.code_hash == hash_code(code))).scalar_one_or_none()
    if row is None:
        return fail(LinkStatus.WRONG)
    if row.used_at is not None:
        return fail(LinkStatus.USED)
    if row.expires_at <= now:
        return fail(LinkStatus.EXPIRED)
    issuer = session.get(Account, row.account_id)
    if issuer is None:  # the issuing account was forgotten meanwhile
        return fail(LinkStatus.WRONG)
    keep_id, drop_id = int(issuer.member_id), int(redeemer.member_id)
    if keep_id == drop_id:
        return LinkResult(LinkStatus.SELF)  # not a guess: the code stays usable
    if _platforms(session, keep_id) & _platforms(session, drop_id):
        return LinkResult(LinkStatus.SAME_PLATFORM)
    row.used_at = now
    session.flush()  # merge_members expires the session; the mark must be written first
    merge_members(session, keep_id, drop_id, hooks)
    session.add(
        AuditEntry(community_id=None, actor_id=keep_id, action="members_linked", target_member_id=None,
                   details={"merged_member": drop_id, "platforms": sorted(_platforms(session, keep_id))}, at=now)
    )
    session.flush()
    return LinkResult(LinkStatus.LINKED, keep_id, drop_id, tuple(sorted(_platforms(session, keep_id))))


# -- merging ---------------------------------------------------------------------------------
def _unique_sets(table: Table, column: Column) -> list[list[Column]]:  # type: ignore[type-arg]
    """Column sets of the table's unique keys that include ``column``."""
    sets: list[list[Column]] = []  # type: ignore[type-arg]
    candidates: list[list[Column]] = [list(table.primary_key.columns)]  # type: ignore[type-arg]
    for constraint in table.constraints:
        if constraint.__class__.__name__ == "UniqueConstraint":
            candidates.append(list(constraint.columns))  # type: ignore[attr-defined]
    for index in table.indexes:
        if index.unique:
            candidates.append([c for c in index.columns if isinstance(c, Column)])
    for cols in candidates:
        if any(c.name == column.name for c in cols) and cols not in sets:
            sets.append(cols)
    return sets


def _fold_memberships(session: Session, keep_id: int, drop_id: int) -> int:
    """Fold the dropped member's memberships into the kept member's, per community."""
    kept = {
        int(m.community_id): m
        for m in session.execute(select(CommunityMember).where(CommunityMember.member_id == keep_id)).scalars()
    }
    folded = 0
    for other in session.execute(select(CommunityMember).where(CommunityMember.member_id == drop_id)).scalars():
        mine = kept.get(int(other.community_id))
        if mine is None:
            continue
        mine.joined_at = min(mine.joined_at, other.joined_at)
        mine.last_seen_at = max(mine.last_seen_at, other.last_seen_at)
        if mine.left_at is None or other.left_at is None:
            mine.left_at = None
        else:
            mine.left_at = max(mine.left_at, other.left_at)
        mine.role = max(mine.role, other.role)
        mine.dm_opt_out = mine.dm_opt_out or other.dm_opt_out
        folded += 1
    session.flush()
    return folded


def merge_members(session: Session, keep_id: int, drop_id: int, hooks: Sequence[PrivacyHook]) -> dict[str, int]:
    """Move everything of ``drop_id`` to ``keep_id`` and delete ``drop_id``.

    See the module docstring for how unique-key collisions are resolved. Returns rows
    re-pointed or deleted per ``table.column``. Raises ValueError if the ids are equal
    and LookupError if either member does not exist. The caller must clear any id cache
    keyed by account (the recorder's) after the transaction.
    """
    if keep_id == drop_id:
        raise ValueError("cannot merge a member into itself")
    for mid in (keep_id, drop_id):
        if session.get(Member, mid) is None:
            raise LookupError(f"member {mid} does not exist")
    moved: dict[str, int] = {}
    hooks = hooks_of.distinct(hooks)
    for hook in hooks:
        n = hooks_of.before_merge(hook, session, keep_id, drop_id)
        if n:
            moved[f"hook:{hook.name}"] = n
    _fold_memberships(session, keep_id, drop_id)
    session.flush()
    for ref in member_refs():
        table, col = ref.table, ref.table.c[ref.column.name]
        n = 0
        for cols in _unique_sets(table, col):
            twin = table.alias()
            same = [twin.c[c.name] == table.c[c.name] for c in cols if c.name != col.name]
            n += affected(
                session, delete(table).where(col == drop_id, exists().where(twin.c[col.name] == keep_id, *same))
            )
        n += affected(session, update(table).where(col == drop_id).values({col.name: keep_id}))
        if n:
            moved[ref.label] = n
    session.execute(
        delete(Interaction).where(Interaction.member_id == keep_id, Interaction.target_member_id == keep_id)
    )
    session.execute(delete(Member).where(Member.id == drop_id))
    session.flush()
    for hook in hooks:
        hooks_of.after_merge(hook, session, keep_id)
    session.expire_all()  # ORM objects loaded above may hold the old member ids
    return moved


def unlink_account(session: Session, account_id: int, *, now: datetime) -> tuple[int, int]:
    """Split ``account_id`` off its member into a new, empty member.

    Returns ``(original member id, new member id)``; history stays with the original.
    Raises LinkError("unknown", ...) for an unknown account and LinkError("not_linked",
    ...) when the account is its member's only one.
    """
    account = session.get(Account, account_id)
    if account is None:
        raise LinkError("unknown", "unknown account")
    original = int(account.member_id)
    others = session.execute(
        select(func.count()).where(Account.member_id == original, Account.id != account_id)
    ).scalar_one()
    if not others:
        raise LinkError("not_linked", "this account is not linked to another one")
    new_member = Member(display_name=account.display_name or account.username or account.external_id,
                        created_at=now)
    session.add(new_member)
    session.flush()
    account.member_id = new_member.id
    session.add(
        AuditEntry(community_id=None, actor_id=original, action="account_unlinked", target_member_id=None,
                   details={"platform": account.platform, "new_member": new_member.id}, at=now)
    )
    session.flush()
    return original, int(new_member.id)


# -- privacy hook (see engine.members.privacy) -------------------------------------------------
def forget_member(session: Session, member_id: int) -> int:
    """Delete the link codes and failed attempts of the member's accounts; returns rows."""
    accounts = select(Account.id).where(Account.member_id == member_id)
    n = affected(session, delete(LinkCode).where(LinkCode.account_id.in_(accounts)))
    return n + affected(session, delete(LinkFailure).where(LinkFailure.account_id.in_(accounts)))


def export_member(session: Session, member_id: int) -> dict[str, Any]:
    """Counts only: codes are secrets (only their hashes are stored anyway)."""
    accounts = select(Account.id).where(Account.member_id == member_id)
    codes = session.execute(select(func.count()).where(LinkCode.account_id.in_(accounts))).scalar_one()
    failures = session.execute(select(func.count()).where(LinkFailure.account_id.in_(accounts))).scalar_one()
    return {"link_codes": int(codes), "failed_link_attempts": int(failures)}
