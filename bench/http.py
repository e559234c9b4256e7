"""Commands over HTTP (`qianshou serve`, 1 and 2 workers) beside bare eventsourcing appends.

python -m bench.http --store sqlite,postgres --workers 1,2 --clients 1,4,16 --children 100

Each client thread takes every n-th child: POST /children, then POST /children/{id}/visits.
Bare eventsourcing (bench/bare.py) writes the same events at the same concurrency, in the
same run, on a fresh store of its own. Each cell also times as many empty requests
(GET /healthz) on the same server: the ceiling the HTTP stack alone sets. `--shared-server`
(the smoke mode) starts one server per store and worker count and gives each client count its
own children, instead of a fresh store and server per cell: a server start costs 1.5-3 s here.
"""

import argparse
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from bench.bare import BareWorkload
from bench.commands import WARMUP_CHILDREN
from bench.measure import Phase, drive
from bench.server import HttpWorkload, Server, serve
from bench.stores import fresh_url


def bare_phase(store: str, children: int, visits: int, clients: int) -> Phase:
    with fresh_url(store) as url:
        work = BareWorkload(url)
        try:
            drive(work, store, WARMUP_CHILDREN, visits, 1, first=10**6)
            return drive(work, store, children, visits, clients)
        finally:
            work.close()


class EmptyWorkload(HttpWorkload):
    """As many requests as the commands, each a GET /healthz that does nothing: what the
    HTTP stack alone (client, uvicorn, the middleware) allows at this concurrency. Its ratio
    to bare is the most any command over this stack could reach."""

    name = "empty"

    def register(self, n: int) -> None:
        self._empty()

    def visit(self, n: int, k: int) -> None:
        self._empty()

    def _empty(self) -> None:
        answer = self.keep_alive().get("/healthz")
        if answer.status != 200:
            raise RuntimeError(f"GET /healthz: {answer.status}")


def http_phase(server: Server, store: str, children: int, visits: int, clients: int,
               first: int = 0, empty: bool = False) -> Phase:
    """A warm-up of its own (new keep-alive connections, a new token), then the timed run."""
    work = (EmptyWorkload if empty else HttpWorkload)(server.base_url)
    try:
        drive(work, store, WARMUP_CHILDREN, visits, 1, first=10**6 + first)
        phase = drive(work, store, children, visits, clients, first=first)
    finally:
        work.close()
    return Phase(store, f"{'empty' if empty else 'http'} x{server.workers}", clients,
                 phase.commands, phase.seconds, phase.p50_ms, phase.p99_ms)


@contextmanager
def _server(store: str, workers: int) -> Iterator[Server]:
    with fresh_url(store) as url, serve(url, workers) as server:
        yield server


def _show(phase: Phase) -> Phase:
    print(f"  {phase.store:8} {phase.variant:9} x{phase.threads:<2} {phase.rate:8.0f} cmd/s "
          f"p50 {phase.p50_ms:6.2f} ms  p99 {phase.p99_ms:7.2f} ms", flush=True)
    return phase


def run(stores: Sequence[str], workers: Sequence[int], clients: Sequence[int], children: int,
        visits: int, shared_server: bool = False) -> list[Phase]:
    phases = []
    for store in stores:
        for n in clients:
            phases.append(_show(bare_phase(store, children, visits, n)))
        for w in workers:
            with ExitStack() as stack:
                shared = stack.enter_context(_server(store, w)) if shared_server else None
                for i, n in enumerate(clients):
                    with ExitStack() as cell:
                        server = shared or cell.enter_context(_server(store, w))
                        phases.append(_show(http_phase(server, store, children, visits, n,
                                                       first=i * 10**5)))
                        phases.append(_show(http_phase(server, store, children, visits, n,
                                                       empty=True)))
    return phases


def table(phases: Sequence[Phase], workers: Sequence[int]) -> str:
    """One row per store and client count; each HTTP figure with its ratio to bare."""
    by = {(p.store, p.variant, p.threads): p for p in phases}
    head = "| store | clients | bare cmd/s (p50/p99 ms) |" + "".join(
        f" HTTP {w} worker{'s' * (w > 1)} cmd/s (p50/p99 ms) | ratio | empty GET/s | ratio |"
        for w in workers)
    lines = [head, "|---|---:|---:|" + "---:|---:|---:|---:|" * len(workers)]
    for store, n in dict.fromkeys((p.store, p.threads) for p in phases):
        bare = by[(store, "bare", n)]
        row = f"| {store} | {n} | {bare.rate:.0f} ({bare.p50_ms:.1f}/{bare.p99_ms:.1f}) |"
        for w in workers:
            p, e = by[(store, f"http x{w}", n)], by[(store, f"empty x{w}", n)]
            row += (f" {p.rate:.0f} ({p.p50_ms:.1f}/{p.p99_ms:.1f}) "
                    f"| {p.rate / bare.rate:.2f} | {e.rate:.0f} | {e.rate / bare.rate:.2f} |")
        lines.append(row)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite,postgres")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts")
    parser.add_argument("--clients", default="1,4,16", help="concurrent HTTP clients")
    parser.add_argument("--children", type=int, default=100)
    parser.add_argument("--visits", type=int, default=4, help="visits per child")
    parser.add_argument("--shared-server", action="store_true",
                        help="one server per store and worker count (smoke)")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    clients = [int(n) for n in args.clients.split(",")]
    print(f"http: {args.children} children x (1 registration + {args.visits} visits) per cell"
          f"{'; one server per store and worker count' if args.shared_server else ''}",
          flush=True)
    phases = run(args.store.split(","), workers, clients, args.children, args.visits,
                 args.shared_server)
    print(table(phases, workers), flush=True)


if __name__ == "__main__":
    main()
