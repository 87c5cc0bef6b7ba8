"""Who is calling, and what they may do. No FastAPI here: `api/deps.py` wires it in.

Identities come from a list of *authenticators*, each a function `Request -> Identity |
None` tried in order (`app.state.authenticators`). The bearer-token one is built in; the
dashboard adds a cookie-session authenticator to the same list, and every route
protected by `api.deps` accepts either without change. An authenticator returns None when
its kind of credential is absent, and raises `Unauthorized` when it is present but wrong
(a wrong token never falls through to another method).

Tokens are compared by their sha256 (the configuration holds digests only).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable

from starlette.requests import HTTPConnection

from winjobs.driver.errors import Forbidden, NotFound, Unauthorized
from winjobs.driver.settings import TokenConfig, hash_token
from winjobs.wire import Identity, Role

Authenticator = Callable[[HTTPConnection], Identity | None]


class TokenTable:
    """The configured bearer tokens, by digest."""

    def __init__(self, tokens: Iterable[TokenConfig]) -> None:
        self._by_digest = {
            t.token_sha256: Identity(name=t.name, role=t.role) for t in tokens if t.token_sha256
        }

    def identify(self, token: str) -> Identity | None:
        return self._by_digest.get(hash_token(token))

    def __len__(self) -> int:
        return len(self._by_digest)


def bearer_authenticator(table: TokenTable) -> Authenticator:
    def authenticate(connection: HTTPConnection) -> Identity | None:
        header = connection.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("malformed Authorization header: expected 'Bearer <token>'")
        identity = table.identify(token.strip())
        if identity is None:
            raise Unauthorized("unknown token")
        return identity

    return authenticate


def authenticate(connection: HTTPConnection, authenticators: Iterable[Authenticator]) -> Identity:
    for method in authenticators:
        identity = method(connection)
        if identity is not None:
            return identity
    raise Unauthorized("this endpoint needs a token (Authorization: Bearer <token>)")


def require_role(identity: Identity, roles: Iterable[Role], what: str) -> Identity:
    allowed = tuple(roles)
    if identity.role not in allowed:
        names = " or ".join(r.value for r in allowed)
        raise Forbidden(f"{what} needs a {names} token; {identity.name} is a {identity.role}")
    return identity


def may_change(identity: Identity, submitter: str) -> bool:
    """Users change only their own jobs; admins change any. The same people see a job's
    notification targets (a webhook URL may hold a key)."""
    if identity.role is Role.ADMIN:
        return True
    return identity.role is Role.USER and identity.name == submitter


def ensure_can_change(identity: Identity, submitter: str, job_id: int) -> None:
    if may_change(identity, submitter):
        return
    raise Forbidden(f"job {job_id} belongs to {submitter}: only they or an admin may change it")


def may_release(identity: Identity, submitter: str, held_by: str | None) -> bool:
    """A hold is released by whoever may change the job, except that a hold an admin put
    on someone else's job is for an admin to lift (Slurm's rule for admin holds): the
    owner cannot undo what the pool's operator decided."""
    if not may_change(identity, submitter):
        return False
    return identity.role is Role.ADMIN or held_by in (None, identity.name, submitter)


def ensure_can_release(
    identity: Identity, submitter: str, held_by: str | None, job_id: int
) -> None:
    ensure_can_change(identity, submitter, job_id)
    if not may_release(identity, submitter, held_by):
        raise Forbidden(
            f"job {job_id} was held by {held_by}, an admin: only an admin may release it"
        )


def may_read(identity: Identity, submitter: str, readers: Collection[str]) -> bool:
    """Who reads a job's data (detail, result, logs): its submitter, admins, and the users
    the driver's `readers` setting names. Everyone else sees only its line in the queue."""
    if identity.role is Role.ADMIN:
        return True
    return identity.role is Role.USER and (identity.name == submitter or identity.name in readers)


def ensure_can_read(
    identity: Identity, submitter: str, job_id: int, readers: Collection[str]
) -> None:
    if not may_read(identity, submitter, readers):
        raise Forbidden(
            f"job {job_id} belongs to {submitter}: only they, an admin or a reader named in "
            "the driver's `readers` setting may read its data"
        )


class WorkerOwners:
    """Which worker token registered each worker id: only that token may use the id (the
    `X-Winjobs-Worker` header), so another token cannot heartbeat, release or complete
    that worker's tasks. Remembered at registration, else read once from the store
    (`lookup`: the owner's token name, None for a worker registered before ids had
    owners, NotFound for no such worker)."""

    def __init__(self, lookup: Callable[[int], str | None]) -> None:
        self._lookup = lookup
        self._owners: dict[int, str | None] = {}
        self._lock = threading.Lock()

    def bind(self, worker_id: int, token_name: str) -> None:
        with self._lock:
            self._owners[worker_id] = token_name

    def known(self, worker_id: int) -> bool:
        """Whether `check` can answer without the store (no I/O: fine in the event loop)."""
        with self._lock:
            return worker_id in self._owners

    def check(self, worker_id: int, identity: Identity) -> None:
        """Raise Forbidden unless `identity` is the token that registered `worker_id`. An
        unknown id passes: the operation itself answers it (404 "register again")."""
        with self._lock:
            cached = worker_id in self._owners
            owner = self._owners.get(worker_id)
        if not cached:
            try:
                owner = self._lookup(worker_id)
            except NotFound:
                return
            with self._lock:
                self._owners.setdefault(worker_id, owner)
        if owner is not None and owner != identity.name:
            raise Forbidden(
                f"worker {worker_id} was registered with another token: a worker uses the "
                "id its own registration returned"
            )
