"""One handler per command: load, decide through the aggregate, save once."""

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

from argon2 import PasswordHasher

from domain.actor import Actor
from domain.child import Child
from domain.errors import ConflictingState, InvalidFact
from domain.helper import Helper
from domain.user import User, user_id_for
from services import commands as c
from services.application import Answer, Qianshou
from services.idempotency import IdempotencyRequest
from services.permissions import require

hasher = PasswordHasher()


class Handlers:
    """The use cases of the case file, bound to one application."""

    def __init__(self, app: Qianshou) -> None:
        self.app = app

    # --- children ---------------------------------------------------------------------

    def register_child(self, cmd: c.RegisterChild, actor: Actor,
                       idem: IdempotencyRequest | None) -> Answer:
        require(actor, "child.register")
        child_id = cmd.id or uuid4()

        def decide() -> tuple[list[Child], int, dict[str, Any]]:
            if self.app.exists(child_id):
                raise ConflictingState(f"a child with id {child_id} is already registered")
            child = Child.register(cmd.profile(), cmd.guardian.model_dump(mode="json"),
                                   [p.model_dump(mode="json") for p in cmd.parents], child_id)
            return [child], 201, {"id": str(child.id)}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=child_id)

    def change_child(self, child_id: UUID, action: str, change: Callable[[Child], None],
                     actor: Actor, idem: IdempotencyRequest | None) -> Answer:
        """Every command on an existing file: load it fresh, apply one change, save."""
        require(actor, action)

        def decide() -> tuple[list[Child], int, dict[str, Any]]:
            child = self.app.load(child_id, Child, "child")
            change(child)
            return [child], 200, {"id": str(child_id), "version": child.version}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=child_id)

    def pair_helper(self, child_id: UUID, cmd: c.PairHelper, actor: Actor,
                    idem: IdempotencyRequest | None) -> Answer:
        self.app.load(cmd.helper_id, Helper, "helper")  # 404 for an unknown helper
        return self.change_child(child_id, "child.pair",
                                 lambda ch: ch.pair_helper(str(cmd.helper_id), cmd.since),
                                 actor, idem)

    # --- helpers and users ------------------------------------------------------------

    def register_helper(self, cmd: c.RegisterHelper, actor: Actor,
                        idem: IdempotencyRequest | None) -> Answer:
        require(actor, "helper.register")
        helper_id = cmd.id or uuid4()

        def decide() -> tuple[list[Helper], int, dict[str, Any]]:
            if self.app.exists(helper_id):
                raise ConflictingState(f"a helper with id {helper_id} already exists")
            details = cmd.model_dump(mode="json", exclude={"id"})
            return [Helper.register(details, helper_id)], 201, {"id": str(helper_id)}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=helper_id)

    def create_user(self, cmd: c.CreateUser, actor: Actor,
                    idem: IdempotencyRequest | None) -> Answer:
        require(actor, "user.manage")
        check_jurisdiction(cmd)
        password_hash = hasher.hash(cmd.password)

        def decide() -> tuple[list[User], int, dict[str, Any]]:
            if self.app.exists(user_id_for(cmd.username)):
                raise ConflictingState(f"user {cmd.username} already exists")
            user = User.create(cmd.username, password_hash, cmd.agency, cmd.role,
                               cmd.jurisdiction())
            return [user], 201, {"id": str(user.id), "username": cmd.username}

        return self.app.execute(decide, actor=actor, idem=idem,
                                lock_key=user_id_for(cmd.username))

    def disable_user(self, username: str, cmd: c.DisableUser, actor: Actor,
                     idem: IdempotencyRequest | None) -> Answer:
        require(actor, "user.manage")

        def decide() -> tuple[list[User], int, dict[str, Any]]:
            user = self.app.load(user_id_for(username), User, "user")
            user.disable(cmd.reason)
            return [user], 200, {"username": username, "disabled": True}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=user_id_for(username))


# The jurisdiction each role needs (DOMAIN.md, privacy and trust).
JURISDICTION_NEEDS = {
    "township_supervisor": ("township",),
    "child_director": ("township", "village"),
    "grid_worker": ("township", "village"),
    "principal": ("school",),
    "class_teacher": ("school", "class_name"),
    "counsellor": ("school",),
    "volunteer": ("helper_id",),
}


def check_jurisdiction(cmd: c.CreateUser) -> None:
    have = cmd.jurisdiction()
    for field in JURISDICTION_NEEDS.get(cmd.role, ()):
        if field not in have:
            raise InvalidFact(field, f"is required for the role {cmd.role}")
