"""Who a presented API key is, and whether keys are asked for at all.

``Authenticator.principal(token)`` answers the request's Principal, or raises
:class:`Unauthenticated`. A key found in the database is kept for ``key_cache_seconds``
(default 2 s), so a request normally costs one HMAC and a dict lookup: a key revoked through
GraphQL stops at once (this process forgets it), one revoked by the CLI or another replica
within that time.

The mode (``SLICEBOARD_AUTH`` / ``--auth``): ``required``, ``off``, or ``auto``, which means
required when usable keys exist and off when there are none on a loopback bind. Without keys on
any other address the server refuses to start (:func:`resolve_mode`); ``SLICEBOARD_ENV=production``
always requires keys.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.config import Settings
from sliceboard.cross_site import is_loopback
from sliceboard.errors import Conflict
from sliceboard.principal import ADMIN, ANONYMOUS_ADMIN, Principal
from sliceboard.runtime import Runtime
from sliceboard.services import api_keys
from sliceboard.storage.tables import utcnow

logger = logging.getLogger("sliceboard.auth")
BOOTSTRAP_NAME = "bootstrap-admin"


class Unauthenticated(Exception):
    """No usable key: ``error`` is the RFC 6750 code (``invalid_token``) or None when none came."""

    def __init__(self, message: str, error: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.error = error


class AuthRefused(Exception):
    """The server must not start as configured (one line, for the operator)."""


def resolve_mode(settings: Settings, usable_keys: int) -> bool:
    """True when requests need a key."""
    if settings.auth == "required" or settings.env == "production":
        return True
    if settings.auth == "off":
        return False
    if usable_keys:
        return True
    if is_loopback(settings.host):
        return False
    raise AuthRefused(
        f"sliceboard: refusing to serve {settings.host} without API keys: create one with "
        "`sliceboard keys create --name NAME --scope admin` (or set "
        "SLICEBOARD_BOOTSTRAP_ADMIN_KEY), or pass --auth off to serve without authentication"
    )


class Authenticator:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        # Until start() has counted the keys, "auto" fails closed.
        self.required = self.settings.auth != "off"
        self._secret: bytes | None = None
        self._keys: dict[str, tuple[float, api_keys.StoredKey | None]] = {}
        runtime.forget_key = self.forget

    async def start(self) -> None:
        """Stores the bootstrap admin key if it is new, then settles the mode (may raise
        AuthRefused)."""
        async with self.runtime.unit_of_work() as session:
            self._secret = await api_keys.server_secret(
                session, configured=self.settings.key_secret
            )
            bootstrap = self.settings.bootstrap_admin_key
            public_id = api_keys.public_id_of(bootstrap) if bootstrap else None
            if (
                public_id is not None
                and await api_keys.find_key(session, public_id=public_id) is None
            ):
                await self._store_bootstrap_key(session, bootstrap, public_id)
            usable = await api_keys.count_usable_api_keys(session)
        self.required = resolve_mode(self.settings, usable)
        logger.info(
            "authentication %s (%d usable API keys)", "required" if self.required else "off", usable
        )
        if self.required and not usable:
            logger.warning(
                "authentication is required but no usable API key exists: create one with "
                "`sliceboard keys create --name NAME --scope admin`"
            )

    async def _store_bootstrap_key(self, session: AsyncSession, key: str, public_id: str) -> None:
        assert self._secret is not None
        try:
            await api_keys.create_api_key(
                session,
                secret=self._secret,
                name=f"{BOOTSTRAP_NAME}-{public_id}",
                scope=ADMIN,
                dataset_ids=None,
                expires_at=None,
                key=key,
            )
        except Conflict:
            return  # another replica starting at the same time stored it
        logger.info("stored the bootstrap admin key (SLICEBOARD_BOOTSTRAP_ADMIN_KEY)")

    def forget(self, public_id: str | None = None) -> None:
        """Drop cached keys (one, or all): after a revocation in this process."""
        if public_id is None:
            self._keys.clear()
        else:
            self._keys.pop(public_id, None)

    async def principal(self, authorization: str | None) -> Principal:
        """The principal of a request with this ``Authorization`` value (``Bearer <key>``)."""
        if not self.required:
            return ANONYMOUS_ADMIN
        if authorization is None or not authorization.strip():
            raise Unauthenticated(
                "An API key is required: send `Authorization: Bearer <key>`.", None
            )
        kind, _, token = authorization.strip().partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "Send the API key as `Authorization: Bearer <key>`.", "invalid_request"
            )
        return await self.principal_for_key(token.strip())

    async def principal_for_key(self, key: str) -> Principal:
        public_id = api_keys.public_id_of(key)
        stored = await self._stored(public_id) if public_id is not None else None
        secret = self._secret
        if (
            stored is None
            or secret is None
            or not api_keys.matches(secret, key, stored.row.secret_hash)
        ):
            raise Unauthenticated("The API key is not valid.", "invalid_token")
        if not stored.usable_at(utcnow()):
            raise Unauthenticated("The API key is revoked or expired.", "invalid_token")
        return stored.principal

    async def _stored(self, public_id: str) -> api_keys.StoredKey | None:
        now = time.monotonic()
        cached = self._keys.get(public_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.runtime.reading() as session:
            stored = await api_keys.find_key(session, public_id=public_id)
        if stored is not None:
            # Only keys that exist are kept, so a flood of made-up keys cannot fill the memory.
            self._keys[public_id] = (now + self.settings.key_cache_seconds, stored)
        return stored
