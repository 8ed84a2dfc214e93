"""Agencies, users, their chat identities, and the invites that bind them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, or_, select, update

from storage._base import UnitBase, fields
from storage.models import COHORTS, ROLES, Agency, Identity, Invite, InviteFailure, User, utcnow
from storage.records import AgencyRec, IdentityRec, InviteRec, UserRec


def _check(kind: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{kind} {value!r} is not one of {', '.join(allowed)}")


class PeopleUnit(UnitBase):
    # -- agencies ---------------------------------------------------------------------------

    async def add_agency(
        self,
        code: str,
        name: str,
        cohort: str,
        *,
        address: str | None = None,
        website: str | None = None,
        phone: str | None = None,
        email: str | None = None,
    ) -> AgencyRec:
        """Raises Conflict if the code is taken. The optional fields are what Phiếu prefills."""
        _check("cohort", cohort, COHORTS)
        stmt = (
            insert(Agency)
            .values(
                code=code,
                name=name,
                cohort=cohort,
                address=address,
                website=website,
                phone=phone,
                email=email,
            )
            .returning(*Agency.__table__.c)
        )
        return AgencyRec(**fields((await self._exec(stmt)).one()))

    async def agency(self, agency_id: int) -> AgencyRec | None:
        row = (await self._exec(select(Agency).where(Agency.id == agency_id))).one_or_none()
        return AgencyRec(**fields(row)) if row else None

    async def agency_by_code(self, code: str) -> AgencyRec | None:
        row = (await self._exec(select(Agency).where(Agency.code == code))).one_or_none()
        return AgencyRec(**fields(row)) if row else None

    async def list_agencies(self) -> list[AgencyRec]:
        rows = await self._exec(select(Agency).order_by(Agency.cohort, Agency.code))
        return [AgencyRec(**fields(r)) for r in rows]

    # -- users and identities ---------------------------------------------------------------

    async def add_user(
        self, name: str, agency_id: int | None, role: str, lang: str = "vi"
    ) -> UserRec:
        """Raises Conflict if the agency does not exist."""
        _check("role", role, ROLES)
        stmt = (
            insert(User)
            .values(name=name, agency_id=agency_id, role=role, lang=lang)
            .returning(*User.__table__.c)
        )
        return UserRec(**fields((await self._exec(stmt)).one()))

    async def user(self, user_id: int) -> UserRec | None:
        row = (await self._exec(select(User).where(User.id == user_id))).one_or_none()
        return UserRec(**fields(row)) if row else None

    async def identity(
        self, channel: str, external_id: str
    ) -> tuple[UserRec, AgencyRec | None] | None:
        """Who a chat account belongs to, and their agency; None for a stranger."""
        agency_cols = [c.label(f"ag__{c.name}") for c in Agency.__table__.c]
        stmt = (
            select(*User.__table__.c, *agency_cols)
            .join(Identity, Identity.user_id == User.id)
            .outerjoin(Agency, Agency.id == User.agency_id)
            .where(Identity.channel == channel, Identity.external_id == external_id)
        )
        row = (await self._exec(stmt)).one_or_none()
        if row is None:
            return None
        data = fields(row)
        user = UserRec(**{c.name: data[c.name] for c in User.__table__.c})
        agency_data = {c.name: data[f"ag__{c.name}"] for c in Agency.__table__.c}
        agency = AgencyRec(**agency_data) if agency_data["id"] is not None else None
        return user, agency

    async def bind_identity(
        self, user_id: int, channel: str, external_id: str, display_name: str | None
    ) -> IdentityRec:
        """Attach a chat account to a user; an account already bound moves to this user."""
        new = self._insert(Identity).values(
            user_id=user_id, channel=channel, external_id=external_id, display_name=display_name
        )
        stmt = new.on_conflict_do_update(
            index_elements=[Identity.channel, Identity.external_id],
            set_={"user_id": new.excluded.user_id, "display_name": new.excluded.display_name},
        ).returning(*Identity.__table__.c)
        return IdentityRec(**fields((await self._exec(stmt)).one()))

    async def identities(self, user_id: int) -> list[IdentityRec]:
        stmt = select(Identity).where(Identity.user_id == user_id).order_by(Identity.id)
        return [IdentityRec(**fields(r)) for r in await self._exec(stmt)]

    async def set_user_lang(self, user_id: int, lang: str) -> bool:
        stmt = update(User).where(User.id == user_id).values(lang=lang).returning(User.id)
        return (await self._exec(stmt)).first() is not None

    async def users_with_role(
        self, role: str, agency_id: int | None = None
    ) -> list[tuple[UserRec, list[IdentityRec]]]:
        """Users with `role` (in `agency_id` if given) and their chat accounts, to notify."""
        _check("role", role, ROLES)
        stmt = select(User).where(User.role == role).order_by(User.id)
        if agency_id is not None:
            stmt = stmt.where(User.agency_id == agency_id)
        users = [UserRec(**fields(r)) for r in await self._exec(stmt)]
        if not users:
            return []
        ids_stmt = (
            select(Identity)
            .where(Identity.user_id.in_([u.id for u in users]))
            .order_by(Identity.id)
        )
        by_user: dict[int, list[IdentityRec]] = {u.id: [] for u in users}
        for row in await self._exec(ids_stmt):
            ident = IdentityRec(**fields(row))
            by_user[ident.user_id].append(ident)
        return [(u, by_user[u.id]) for u in users]

    # -- invites ----------------------------------------------------------------------------

    async def add_invite(
        self,
        code_hash: str,
        agency_id: int | None,
        role: str,
        uses_left: int | None,
        expires_at: datetime | None,
        created_by: int | None = None,
        user_id: int | None = None,
    ) -> InviteRec:
        """Store an invite by the sha256 of its code (the code itself is never stored).
        With `user_id` the invitation is that person's: redeeming it binds the chat account
        to them (a second app for the same person) instead of creating a new user."""
        _check("role", role, ROLES)
        stmt = (
            insert(Invite)
            .values(
                code_hash=code_hash,
                agency_id=agency_id,
                role=role,
                uses_left=uses_left,
                expires_at=expires_at,
                created_by=created_by,
                user_id=user_id,
            )
            .returning(*Invite.__table__.c)
        )
        return InviteRec(**fields((await self._exec(stmt)).one()))

    async def invite_by_hash(self, code_hash: str) -> InviteRec | None:
        stmt = select(Invite).where(Invite.code_hash == code_hash)
        row = (await self._exec(stmt)).one_or_none()
        return InviteRec(**fields(row)) if row else None

    async def use_invite(self, invite_id: int, now: datetime) -> bool:
        """Spend one use, atomically: False if revoked, expired or used up.

        One UPDATE with the conditions in its WHERE, so two people racing for the last use
        cannot both get it (PostgreSQL re-checks the WHERE after waiting for the row lock).
        """
        stmt = (
            update(Invite)
            .where(
                Invite.id == invite_id,
                Invite.revoked_at.is_(None),
                or_(Invite.uses_left.is_(None), Invite.uses_left > 0),
                or_(Invite.expires_at.is_(None), Invite.expires_at > now),
            )
            # NULL - 1 is NULL: unlimited invites stay unlimited.
            .values(uses_left=Invite.uses_left - 1)
            .returning(Invite.id)
        )
        return (await self._exec(stmt)).first() is not None

    async def revoke_invite(self, invite_id: int, now: datetime | None = None) -> bool:
        stmt = (
            update(Invite)
            .where(Invite.id == invite_id, Invite.revoked_at.is_(None))
            .values(revoked_at=now or utcnow())
            .returning(Invite.id)
        )
        return (await self._exec(stmt)).first() is not None

    async def list_invites(self, agency_id: int | None = None) -> list[InviteRec]:
        stmt = select(Invite).order_by(Invite.id)
        if agency_id is not None:
            stmt = stmt.where(Invite.agency_id == agency_id)
        return [InviteRec(**fields(r)) for r in await self._exec(stmt)]

    async def record_invite_failure(self, channel: str, external_id: str, now: datetime) -> None:
        """Note a wrong code from a chat account (kept in the database: throttling must
        survive restarts and hold across workers)."""
        stmt = insert(InviteFailure).values(channel=channel, external_id=external_id, at=now)
        await self._exec(stmt)

    async def count_invite_failures(self, channel: str, external_id: str, since: datetime) -> int:
        stmt = select(func.count()).where(
            InviteFailure.channel == channel,
            InviteFailure.external_id == external_id,
            InviteFailure.at >= since,
        )
        return int((await self._exec(stmt)).scalar_one())
