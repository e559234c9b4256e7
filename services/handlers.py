"""One handler per command: load, decide through the aggregate, save once."""

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

from argon2 import PasswordHasher
from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.child import Child
from domain.errors import ConflictingState, InvalidFact
from domain.helper import Helper
from domain.identity import IdNumberClaim, claim_id_for
from domain.user import User, user_id_for
from services import commands as c
from services.application import Answer, Qianshou
from services.idempotency import IdempotencyRequest
from services.jurisdiction import require_reach
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
        require_reach(actor, cmd.profile())
        child_id = cmd.id or uuid4()

        def decide() -> tuple[list[Aggregate], int, dict[str, Any]]:
            if self.app.exists(child_id):
                raise ConflictingState(f"a child with id {child_id} is already registered")
            child = Child.register(cmd.profile(), cmd.guardian.model_dump(mode="json"),
                                   [p.model_dump(mode="json") for p in cmd.parents], child_id)
            return [child, *self._claims(cmd.id_number, child_id)], 201, {"id": str(child.id)}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=child_id)

    def _claims(self, id_number: str | None, child_id: UUID) -> list[IdNumberClaim]:
        """The ID number's claim, saved with the child: 409 naming the child already holding
        it; at the same instant the store's primary key refuses the second writer."""
        if not id_number:
            return []
        claim_id = claim_id_for(id_number)
        if self.app.exists(claim_id):
            self.app.load(claim_id, IdNumberClaim, "ID number claim").refuse()
        return [IdNumberClaim.claim(id_number, child_id)]

    def merge_child(self, child_id: UUID, cmd: c.MergeChild, actor: Actor,
                    idem: IdempotencyRequest | None) -> Answer:
        """合并: both files change in one save, with the ID number's claim if it moves."""
        require(actor, "child.merge")

        def decide() -> tuple[list[Aggregate], int, dict[str, Any]]:
            absorbed = self.app.load(child_id, Child, "child")
            require_reach(actor, absorbed.place)
            if cmd.into == child_id:
                raise InvalidFact("into", "is the file being merged; name another child")
            survivor = self.app.load(cmd.into, Child, "child named in into")
            require_reach(actor, survivor.place)
            moved = absorbed.merge_into(survivor.id, cmd.reason)
            survivor.absorb(absorbed, moved, cmd.reason)
            changed: list[Aggregate] = [absorbed, survivor]
            id_number = absorbed.profile.get("id_number")
            if id_number and self.app.exists(claim_id_for(id_number)):
                claim = self.app.load(claim_id_for(id_number), IdNumberClaim, "ID number claim")
                if claim.child_id == str(child_id):
                    claim.pass_to(survivor.id)
                    changed.append(claim)
            return changed, 200, {"id": str(child_id), "merged_into": str(survivor.id)}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=child_id)

    def erase_child(self, child_id: UUID, cmd: c.EraseChild, actor: Actor,
                    idem: IdempotencyRequest | None) -> Answer:
        """Record the erasure, then destroy the keys at once; the projections destroy them
        again on the Erased event, so a crash between the two still ends erased."""
        answer = self.change_child(child_id, "child.erase", lambda ch: ch.erase(cmd.reason),
                                   actor, idem)
        self.app.keys.shred_now(str(child_id))
        return answer

    def change_child(self, child_id: UUID, action: str, change: Callable[[Child], None],
                     actor: Actor, idem: IdempotencyRequest | None) -> Answer:
        """Every command on an existing file: load it fresh, apply one change, save."""
        require(actor, action)

        def decide() -> tuple[list[Child], int, dict[str, Any]]:
            child = self.app.load(child_id, Child, "child")
            require_reach(actor, child.place)
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
        check_jurisdiction(cmd.role, cmd.jurisdiction())
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


    def change_role(self, username: str, cmd: c.ChangeRole, actor: Actor,
                    idem: IdempotencyRequest | None) -> Answer:
        """A new role takes its jurisdiction with it, in one save."""
        require(actor, "user.manage")
        check_jurisdiction(cmd.role, cmd.jurisdiction())

        def change(user: User) -> None:
            user.change_role(cmd.role)
            if cmd.jurisdiction() != user.jurisdiction:
                user.change_jurisdiction(cmd.jurisdiction())

        return self._change_user(username, change, actor, idem)

    def change_jurisdiction(self, username: str, cmd: c.ChangeJurisdiction, actor: Actor,
                            idem: IdempotencyRequest | None) -> Answer:
        require(actor, "user.manage")

        def change(user: User) -> None:
            check_jurisdiction(user.role, cmd.jurisdiction())
            user.change_jurisdiction(cmd.jurisdiction())

        return self._change_user(username, change, actor, idem)

    def _change_user(self, username: str, change: Callable[[User], None], actor: Actor,
                     idem: IdempotencyRequest | None) -> Answer:
        def decide() -> tuple[list[User], int, dict[str, Any]]:
            user = self.app.load(user_id_for(username), User, "user")
            change(user)
            return [user], 200, {"username": username, "role": user.role,
                                 "jurisdiction": user.jurisdiction}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=user_id_for(username))


# The jurisdiction each role needs (docs/DOMAIN.md §1).
JURISDICTION_NEEDS = {
    "township_supervisor": ("township",),
    "child_director": ("township", "village"),
    "grid_worker": ("township", "village"),
    "principal": ("school",),
    "class_teacher": ("school", "class_name"),
    "counsellor": ("school",),
    "volunteer": ("helper_id",),
}


def check_jurisdiction(role: str, have: dict[str, Any]) -> None:
    for field in JURISDICTION_NEEDS.get(role, ()):
        if field not in have:
            raise InvalidFact(field, f"is required for the role {role}")
