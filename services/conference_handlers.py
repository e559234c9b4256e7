"""Case-conference use cases: hold a conference with its actions, complete an action."""

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.child import Child
from domain.conference import Action, CaseConference, action_id_for
from domain.errors import ConflictingState, Forbidden, InvalidFact, NotFound
from domain.helper import Helper
from services.application import Answer, Qianshou
from services.conference_commands import CompleteAction, HoldConference
from services.idempotency import IdempotencyRequest
from services.jurisdiction import place_of, reaches, require_reach
from services.permissions import require

Decided = tuple[list[Aggregate], int, dict[str, Any]]


class ConferenceHandlers:
    """The case-conference use cases, bound to one application."""

    def __init__(self, app: Qianshou) -> None:
        self.app = app

    def hold(self, cmd: HoldConference, actor: Actor, idem: IdempotencyRequest | None) -> Answer:
        """The conference and each of its actions are saved together, or not at all."""
        require(actor, "conference.hold")
        conference_id = cmd.id or uuid4()

        def decide() -> Decided:
            if self.app.exists(conference_id):
                raise ConflictingState(f"a case conference with id {conference_id} already exists")
            for index, child_id in enumerate(cmd.child_ids):
                self._child(index, child_id, actor)
            attendees = [self._attendee(index, a.helper_id)
                         for index, a in enumerate(cmd.attendees)]
            actions = self._actions(conference_id, cmd)
            conference, assigned = CaseConference.hold(
                conference_id, cmd.held_at, [str(c) for c in cmd.child_ids], attendees,
                list(cmd.decisions), actions)
            body = {"id": str(conference_id), "action_ids": [a["action_id"] for a in actions]}
            return [conference, *assigned], 201, body

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=conference_id)

    def complete(self, action_id: UUID, cmd: CompleteAction, actor: Actor,
                 idem: IdempotencyRequest | None) -> Answer:
        """Completing an action a second time is refused (409)."""
        require(actor, "action.complete")

        def decide() -> Decided:
            action = self.app.load(action_id, Action, "action")
            # Anyone who reaches one of the action's children may record it done.
            places = [self.app.load(UUID(c), Child, "child").place for c in action.child_ids]
            if places and not any(reaches(actor, place_of(p)) for p in places):
                raise Forbidden("this action's children are outside your jurisdiction")
            action.complete(cmd.note)
            return [action], 200, {"id": str(action_id), "status": "completed",
                                   "version": action.version}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=action_id)

    # --- checks on what the body names --------------------------------------------------

    def _known(self, aggregate_id: UUID, kind: type[Aggregate], field: str, what: str) -> Any:
        """An id in the body that names nothing is invalid input (422), not a missing page."""
        try:
            return self.app.load(aggregate_id, kind, what)
        except NotFound:
            raise InvalidFact(field, f"no {what} with id {aggregate_id}") from None

    def _child(self, index: int, child_id: UUID, actor: Actor) -> None:
        child = self._known(child_id, Child, f"child_ids.{index}", "child")
        require_reach(actor, child.place)
        survivor = getattr(child, "merged_into", None)
        if survivor is not None:  # a merged file takes nothing more (合并档案)
            raise InvalidFact(f"child_ids.{index}", f"was merged into {survivor}: name that file")

    def _attendee(self, index: int, helper_id: UUID) -> dict[str, Any]:
        # The agency and role are copied in: the conference says who sat at the table then.
        helper = self._known(helper_id, Helper, f"attendees.{index}.helper_id", "helper")
        return {"helper_id": str(helper_id), "agency": helper.details.get("agency"),
                "role": helper.details.get("role")}

    def _actions(self, conference_id: UUID, cmd: HoldConference) -> list[dict[str, Any]]:
        children = [str(c) for c in cmd.child_ids]
        actions = []
        for index, action in enumerate(cmd.actions):
            if action.helper_id is not None:
                self._known(action.helper_id, Helper, f"actions.{index}.helper_id", "helper")
            if action.child_id is not None and str(action.child_id) not in children:
                raise InvalidFact(f"actions.{index}.child_id",
                                  "is not one of the conference's child_ids")
            actions.append({
                "action_id": str(action_id_for(conference_id, index)),
                "description": action.description, "agency": action.agency,
                "helper_id": str(action.helper_id) if action.helper_id else None,
                "child_ids": [str(action.child_id)] if action.child_id else children,
                "due": action.due.isoformat()})
        return actions
