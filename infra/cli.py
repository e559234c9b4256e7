"""The qianshou command line (typer)."""

import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from domain.actor import SYSTEM
from infra.logging import configure_logging
from infra.projector import RUNNING_NAME, name_process, views_beside, wait_for_go
from infra.services import build_services
from infra.settings import Settings
from services import commands as c

# uvicorn's supervisor pings each worker and kills one that has not answered within its
# health-check timeout (5 s by default), starting a new one. A worker answers only once it has
# imported the service, about 1 s of CPU: on a busy 2-core machine (load 20) that took longer
# than 5 s, and `serve --workers 2` killed and restarted its workers for good (40 workers in
# 4 minutes, never up; with this, up after 97 s with its two workers). A hung worker is
# replaced after this instead.
WORKER_HEALTHCHECK_SECONDS = 120

app = typer.Typer(help="牵手 Qianshou: the shared case file of left-behind children.",
                  no_args_is_help=True)
users = typer.Typer(help="Manage users.", no_args_is_help=True)
projections = typer.Typer(help="Run and rebuild the views.", no_args_is_help=True)
app.add_typer(users, name="users")
app.add_typer(projections, name="projections")


@app.command()
def serve(host: str = "127.0.0.1", port: int = int(os.environ.get("PORT", "8000")),
          workers: int = 1, demo: bool = False) -> None:
    """Start the HTTP service (views run inside it unless QIANSHOU_PROJECTIONS=off; with
    several workers, in one `qianshou project` beside them: infra/projector.py)."""
    if demo:
        _load_demo(36)
    with views_beside(workers):
        uvicorn.run("infra.web.main:app", host=host, port=port, workers=workers,
                    loop="uvloop", http="httptools", log_level="warning",
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)


@app.command()
def project(standby: Annotated[bool, typer.Option(
        hidden=True, help="Import everything, then wait for a line 'go' on stdin before "
                          "touching the store (the spare of `serve --workers`).")] = False,
            ) -> None:
    """Run the views as a worker process (production), until interrupted."""
    # A process started from one that ignores SIGINT (a script's background job, a test
    # runner's worker) inherits that, and Python then never turns it into KeyboardInterrupt:
    # Ctrl-C and the supervisor's stop() would be lost until the kill after its timeout.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if standby:
        if not wait_for_go(sys.stdin.buffer):
            return  # the service no longer needs this spare
    else:
        name_process(RUNNING_NAME)
    settings = Settings()
    configure_logging(settings.log_json, settings.log_level)
    services = build_services(settings)
    services.runner.start()
    typer.echo("projection worker running; Ctrl-C to stop")
    try:
        while True:
            services.runner._stop.wait(3600)
    except KeyboardInterrupt:
        pass
    finally:
        services.close()


@app.command()
def demo(children: int = 36,
         years: Annotated[int | None, typer.Option(
             min=1, max=20, help="Generate a county's history over this many years (bulk)."
         )] = None,
         seed: Annotated[int | None, typer.Option(help="Seed of the generated data.")] = None,
         views: Annotated[bool, typer.Option(help="Build the views after generating.")] = True,
         ) -> None:
    """Load the demo data set (idempotent) and an admin user admin / qianshou-demo.

    With --years (or --seed), generate a county's children instead: about 37 events per
    child and year (visits, feedback, exams, counselling, grants, incidents, pairings).
    """
    if years is None and seed is None:
        _load_demo(children)
    else:
        _generate(children, years or 1, 7 if seed is None else seed, views)


def _generate(children: int, years: int, seed: int, views: bool) -> None:
    import time

    from infra.generator import generate

    if children < 1:
        typer.echo("refused: --children must be at least 1", err=True)
        raise typer.Exit(2)
    services = build_services(Settings())
    try:
        _admin(services)
        began, first = time.perf_counter(), services.app.max_position()
        with Progress(TextColumn("generating children"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}")) as bar:
            task = bar.add_task("generate", total=children, rate="")

            def advance(n: int) -> None:
                done = services.app.max_position() - first
                bar.update(task, advance=n,
                           rate=f"{done / (time.perf_counter() - began):,.0f} events/s")

            loaded = generate(services, children, years, seed, advance)
        events = services.app.max_position() - first
        seconds = time.perf_counter() - began
        typer.echo(f"demo: {loaded} children registered with {events} events in {seconds:.0f} s "
                   f"({events / max(seconds, 1e-9):,.0f} events/s); "
                   "sign in as admin / qianshou-demo")
        if views:
            with _bar() as bar:
                services.runner.load_positions()
                task = bar.add_task("building the views", total=services.app.max_position()
                                    - services.runner.position)
                services.runner.catch_up(lambda n: bar.advance(task, n))
    finally:
        services.close()


def _admin(services) -> None:  # type: ignore[no-untyped-def]
    if not services.app.exists(_user_id("admin")):
        services.handlers.create_user(c.CreateUser(
            username="admin", password="qianshou-demo", agency="township", role="admin"),
            SYSTEM, None)


def _load_demo(children: int) -> None:
    from infra.demo import load_demo

    services = build_services(Settings())
    try:
        if not services.app.exists(_user_id("admin")):
            services.handlers.create_user(c.CreateUser(
                username="admin", password="qianshou-demo", agency="township", role="admin"),
                SYSTEM, None)
        loaded = load_demo(services, children)
        typer.echo(f"demo: {loaded} children registered; sign in as admin / qianshou-demo")
    finally:
        services.close()


def _user_id(username: str):  # type: ignore[no-untyped-def]
    from domain.user import user_id_for

    return user_id_for(username)


@users.command("add")
def users_add(username: Annotated[str, typer.Option()], password: Annotated[str, typer.Option()],
              agency: Annotated[str, typer.Option()], role: Annotated[str, typer.Option()],
              township: str = "", village: str = "", school: str = "",
              class_name: str = "", helper_id: str = "") -> None:
    """Create a user (the same rules as POST /users)."""
    from pydantic import ValidationError

    from domain.errors import DomainError

    services = build_services(Settings())
    try:
        cmd = c.CreateUser(username=username, password=password, agency=agency,  # type: ignore[arg-type]
                           role=role, township=township, village=village,  # type: ignore[arg-type]
                           school=school, class_name=class_name, helper_id=helper_id or None)
        services.handlers.create_user(cmd, SYSTEM, None)
        typer.echo(f"user {username} created")
    except ValidationError as error:
        for problem in error.errors():  # field and reason only: never echo the password back
            typer.echo(f"refused: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", err=True)
        raise typer.Exit(2) from None
    except DomainError as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()


@projections.command("rebuild")
def rebuild() -> None:
    """Empty every view and rebuild it from the whole history, with a progress bar."""
    services = build_services(Settings())
    try:
        total = services.app.max_position()
        columns = (TextColumn("rebuilding views"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns) as bar:
            task = bar.add_task("rebuild", total=total)
            done = services.runner.rebuild(lambda n: bar.advance(task, n))
        typer.echo(f"rebuilt from {done} events")
    finally:
        services.close()


ledger = typer.Typer(help="The tamper-evident hash chain over the stored events.",
                     no_args_is_help=True)
app.add_typer(ledger, name="ledger")


@ledger.command("verify")
def ledger_verify() -> None:
    """Recompute the hash chain from the stored events; exit 1 at the first difference."""
    import json

    services = build_services(Settings())
    try:
        with services.db.reading() as cur:
            result = services.views["ledger"].verify(cur, services.app.recorder)
        typer.echo(json.dumps(result))
        if not result["ok"]:
            raise typer.Exit(1)
    finally:
        services.close()


export = typer.Typer(help="Back up the store.", no_args_is_help=True)
import_ = typer.Typer(help="Restore the store from a backup.", no_args_is_help=True)
app.add_typer(export, name="export")
app.add_typer(import_, name="import")


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())


@export.command("events")
def export_events(file: Path) -> None:
    """Every stored event as JSON lines in store order, ending with the hash chain head."""
    from infra.backup import export_events as write
    from infra.backup import ledger_disagrees

    services = build_services(Settings())
    try:
        with _bar() as bar:
            task = bar.add_task("exporting (positions)", total=services.app.max_position())
            done = write(services.app.recorder, file, lambda n: bar.advance(task, n),
                         keys=services.app.keys)
        typer.echo(f"exported {done.events} events to position {done.position}; "
                   f"chain head {done.head_hash}; seal keys in {file.name}.keys (keep it "
                   "apart from the events)")
        with services.db.reading() as cur:
            ledger = ledger_disagrees(cur, services.views["ledger"].links, done)
        if ledger is not None:
            typer.echo(f"warning: the store's ledger has {ledger} at position {done.position}: "
                       "stored events were changed; run qianshou ledger verify", err=True)
            raise typer.Exit(1)
    finally:
        services.close()


@import_.command("events")
def import_events(file: Path) -> None:
    """Check a backup whole, write it into an EMPTY store in one transaction, build the views."""
    from infra import backup

    services = build_services(Settings())
    try:
        until = backup.read_header(file).until_position
        with _bar() as bar:
            check = bar.add_task("checking (positions)", total=until)
            write = bar.add_task("writing", total=until)
            done = backup.import_events(services.app, services.db, file,
                                        lambda n: bar.advance(check, n),
                                        lambda n: bar.advance(write, n))
        with _bar() as bar:
            task = bar.add_task("building the views", total=done.position)
            services.runner.catch_up(lambda n: bar.advance(task, n))
        with services.db.reading() as cur:
            head = services.views["ledger"].head(cur)["head_hash"]
        typer.echo(f"imported {done.events} events to position {done.position}; views built; "
                   f"chain head {head}")
        if head != done.head_hash:
            typer.echo(f"refused: the restored ledger head {head} is not the file's", err=True)
            raise typer.Exit(1)
    except (backup.BackupError, backup.StoreNotEmpty) as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()


@import_.command("registry")
def import_registry(file: Path, as_user: Annotated[str | None, typer.Option(
        "--as", help="the user the registrations are recorded by (their role and "
                     "jurisdiction apply); the system user when not given")] = None) -> None:
    """Register the children of a registry spreadsheet (.xlsx, the /ui/import template).

    Rows are checked like POST /children and registered by the user named with --as (or
    the system user); a row already imported is skipped. Prints each bad cell; exits 1 if
    any row was not registered, 2 if the file or the user cannot be used.
    """
    from infra import spreadsheet, xlsx_guard
    from services.auth import AuthError

    try:
        xlsx_guard.check_size(file.stat().st_size)  # before a byte of it is read
        rows = spreadsheet.read_rows(file.read_bytes())
    except (OSError, spreadsheet.SheetError) as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(2) from None
    services = build_services(Settings())
    try:
        try:
            actor = services.tokens.actor_named(as_user) if as_user else SYSTEM
        except AuthError:
            typer.echo(f"refused: --as {as_user}: no such user, or disabled", err=True)
            raise typer.Exit(2) from None
        with _bar() as bar:
            task = bar.add_task("importing (rows)", total=len(rows))
            spreadsheet.import_rows(rows, services.handlers.register_child, services.app.exists,
                                    actor, lambda: bar.advance(task))
    finally:
        services.close()
    for row in rows:
        for problem in row.problems:
            typer.echo(f"row {row.number} {problem.cell} {problem.heading}: {problem.reason}")
    counts = spreadsheet.summary(rows)
    typer.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
    if counts["invalid"] or counts["refused"]:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
