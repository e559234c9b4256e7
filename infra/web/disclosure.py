"""What of a file a reader may see: field rules applied to every answer that carries it."""

import copy
from typing import Any

from domain.actor import Actor
from services.permissions import NOTES_READERS, mask_id_number

RESTRICTED = "restricted"


def disclose_file(file: dict[str, Any], actor: Actor) -> dict[str, Any]:
    shown = dict(file)
    shown["id_number"] = mask_id_number(file.get("id_number"), actor)
    return shown


def disclose_entry(entry: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Counselling notes only for counsellors and supervisors; ID numbers masked."""
    if entry["type"] == "CounsellingRecorded" and actor.role not in NOTES_READERS:
        entry = {**entry, "data": {**entry["data"], "notes": RESTRICTED}}
    elif entry["type"] == "Registered" and "profile" in entry["data"]:
        entry = copy.deepcopy(entry)
        profile = entry["data"]["profile"]
        profile["id_number"] = mask_id_number(profile.get("id_number"), actor)
    return entry
