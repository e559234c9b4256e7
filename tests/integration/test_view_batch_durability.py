"""A view batch commits without waiting for the disk; everything else still waits.

The views are derived: a power cut can lose their latest batches (rows and tracking
position together), which the runner applies again from the store. The events, the keys
and the read audit must still be synced by their own commits."""

from infra.services import Services


def _setting(services: Services, cur: object) -> str:
    query = "SHOW synchronous_commit" if services.db.is_pg else "PRAGMA synchronous"
    row = cur.execute(query).fetchone()  # type: ignore[attr-defined]
    return str(next(iter(row.values())))


def test_a_view_batch_alone_skips_the_sync(services: Services) -> None:
    with services.db.transaction() as cur:
        before = _setting(services, cur)
    for pipelined in (False, True):
        with services.db.view_batch(pipelined=pipelined) as cur:
            inside = _setting(services, cur)
        assert inside == ("off" if services.db.is_pg else "1")  # NORMAL is 1
    with services.db.transaction() as cur:
        assert _setting(services, cur) == before != inside  # the next writer syncs again
