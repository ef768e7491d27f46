"""Who am I, and my API tokens (the secret is shown once, when the token is created)."""

from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status

from dealflow.accounts.models import User
from dealflow.accounts.selectors import (
    token_get_for_user,
    token_list_for_user,
    user_access_scope,
    user_memberships,
)
from dealflow.accounts.services import token_create, token_revoke
from dealflow.api.base import ApiRequest
from dealflow.api.schemas import Id

router = Router(tags=["Accounts"])


class MembershipOut(Schema):
    team_id: Id
    team: str
    role: str

    @staticmethod
    def resolve_team(membership) -> str:
        return membership.team.name


class MeOut(Schema):
    id: int
    username: str
    name: str
    email: str
    language: str
    is_admin: bool
    is_analyst: bool
    memberships: list[MembershipOut]

    @staticmethod
    def resolve_name(user: User) -> str:
        return user.display_name

    @staticmethod
    def resolve_is_admin(user: User) -> bool:
        return user_access_scope(user=user).is_admin

    @staticmethod
    def resolve_is_analyst(user: User) -> bool:
        return user_access_scope(user=user).is_analyst

    @staticmethod
    def resolve_memberships(user: User) -> list:
        return list(user_memberships(user=user))


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scope: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    secret: str


class TokenIn(Schema):
    name: str
    scope: str = "write"
    expires_at: dt.datetime | None = None


@router.get("/me", response=MeOut)
def me(request: ApiRequest):
    """The signed-in user, with teams and roles."""
    return request.user


@router.get("/tokens", response=list[TokenOut])
def list_tokens(request: ApiRequest):
    """Your API tokens (never their secrets)."""
    return token_list_for_user(user=request.user)


@router.post("/tokens", response={201: TokenCreatedOut})
def create_token(request: ApiRequest, payload: TokenIn):
    """Create a token for yourself; `secret` appears in this answer only, so store it now."""
    token, secret = token_create(
        user=request.user,
        name=payload.name,
        scope=payload.scope,
        expires_at=payload.expires_at,
        by=request.user,
    )
    return Status(201, TokenCreatedOut(**TokenOut.from_orm(token).model_dump(), secret=secret))


@router.delete("/tokens/{token_id}", response=TokenOut)
def revoke_token(request: ApiRequest, token_id: Id):
    """Revoke one of your tokens; scripts using it get 401 from now on."""
    return token_revoke(token=token_get_for_user(token_id=token_id, user=request.user), by=request.user)
