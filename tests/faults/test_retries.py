"""A client that resends after the answer was lost ends with exactly one event per command."""

import json
import socket
import time
from pathlib import Path

import pytest

from infra.settings import Settings
from tests.faults.harness import (Command, Load, Server, assert_exactly_once, make_admin,
                                  markers_in_store, register_command, settings_for,
                                  visit_command)

pytestmark = pytest.mark.faults

COMMANDS = 24


def commands(child_id: str, prefix: str) -> list[Command]:
    return [register_command(f"{prefix}-{n}") if n % 4 == 0
            else visit_command(f"{prefix}-{n}", child_id) for n in range(COMMANDS)]


def send_and_hang_up(server: Server, token: str, cmd: Command) -> None:
    """Write the whole request, then close the socket: the answer can never arrive."""
    body = json.dumps(cmd.body, ensure_ascii=False).encode()
    head = (f"POST {cmd.path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {token}\r\nIdempotency-Key: {cmd.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head.encode() + body)


def test_resent_commands_are_stored_once_whether_sent_twice_or_hung_up_on(
        database_url: str, tmp_path: Path) -> None:
    """One server per store for both ways of losing an answer (a server start is the cost)."""
    settings = settings_for(database_url)
    make_admin(settings)
    server = Server(database_url, tmp_path / "serve.log").start()
    try:
        token = server.token()
        load = Load(server.url, token, [])
        with load.client() as client:
            load.send(client, register_command("the-child"))
        child_id = str(load.answers["the-child"]["id"])
        sent_twice(load, child_id, settings)
        hung_up_on(server, load, child_id, settings)
    finally:
        server.stop()


def sent_twice(load: Load, child_id: str, settings: Settings) -> None:
    with load.client() as client:
        for cmd in commands(child_id, "twice"):
            assert load.send(client, cmd) in (200, 201)
            first = load.answers[cmd.key]
            assert load.send(client, cmd) in (200, 201)  # "the answer was lost": send again
            assert load.answers[cmd.key] == first  # the same id and position: a replay
    found = markers_in_store(settings)
    assert_exactly_once(load, found, f"each of {COMMANDS} commands sent twice")
    assert sum(load.outcomes.values()) == 2 * COMMANDS + 1
    assert all(found[key] == 1 for key in load.sent)


def hung_up_on(server: Server, load: Load, child_id: str, settings: Settings) -> None:
    sent = commands(child_id, "dropped")
    for cmd in sent:
        send_and_hang_up(server, load.token, cmd)
        load.sent[cmd.key] = cmd
    time.sleep(1.0)  # let the server finish what it received
    committed_unheard = sum(markers_in_store(settings)[cmd.key] for cmd in sent)

    load.resend_unacknowledged()  # the client heard nothing: it resends every command
    found = markers_in_store(settings)
    print(f"{COMMANDS} commands sent and hung up on; {committed_unheard} of them committed "
          "with the answer lost; all resent with the same Idempotency-Key")
    assert_exactly_once(load, found, "after the resend")
    assert committed_unheard > 0, "no command committed before its client hung up"
    assert all(found[cmd.key] == 1 for cmd in sent)
