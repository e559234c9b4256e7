"""Everything at once: python -m bench [--smoke] [--store sqlite,postgres]."""

import argparse
import os
import platform
import time
from collections.abc import Sequence

from bench import commands, rebuild
from bench import reads
from bench import http, lag, soak
from bench import audit

# Commands over HTTP, projection lag and the memory soak (bench/http.py, lag.py, soak.py).
# Smoke: HTTP with 2 workers only (lag and soak start 1), one server per store for every
# client count, 16 children so that each of 16 clients has one; 50 lag samples; a 6-second
# soak. A server start takes 2.5-5 s here; see bench/RESULTS.md for the time it all takes.
SERVED = {"smoke": {"http": ["--children", "16", "--visits", "2", "--shared-server",
                             "--workers", "2"],
                    "lag": ["--samples", "50"], "soak": ["--minutes", "0.1", "--every", "2"]},
          "full": {"http": ["--children", "100", "--visits", "4"],
                   "lag": ["--samples", "200"], "soak": ["--minutes", "10", "--every", "10"]}}

# Reads at scale (bench/reads.py): generated children, lookups of each kind, archive reads.
READS = {"smoke": {"children": 300, "per_kind": 20, "repeat": 20},
         "full": {"children": 100_000, "per_kind": 200, "repeat": 200}}

# (children, visits per child, repeats) for commands; children of 15 events for the rebuild.
SIZES = {"smoke": {"commands": (32, 4, 1), "rebuild": 200},
         "full": {"commands": (200, 9, 3), "rebuild": 2000}}


def machine() -> str:
    """What the figures were measured on, including the load others put on it."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, nproc {os.cpu_count()}, "
            f"Python {platform.python_version()}, load average {load}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small sizes, under 2 minutes")
    parser.add_argument("--store", default="sqlite,postgres")
    parser.add_argument("--threads", default="1,4,16")
    parser.add_argument("--children", type=int, default=None,
                        help="generated children for the reads (smoke 300; full 100,000)")
    args = parser.parse_args(argv)
    size = SIZES["smoke" if args.smoke else "full"]
    children, visits, repeat = size["commands"]
    started = time.perf_counter()
    print(f"# bench {'smoke' if args.smoke else 'full'}: {machine()}", flush=True)
    commands.main(["--store", args.store, "--children", str(children),
                   "--visits", str(visits), "--threads", args.threads,
                   "--repeat", str(repeat)])
    rebuild.main(["--store", args.store, "--children", str(size["rebuild"])])
    sized = READS["smoke" if args.smoke else "full"]
    reads.main(["--store", args.store, "--children", str(args.children or sized["children"]),
                "--per-kind", str(sized["per_kind"]), "--repeat", str(sized["repeat"])])
    # The read audit's cost on a read (issue 3): audited vs not, beside bare and raw reads.
    audit.main(["--store", args.store, "--reads", "100" if args.smoke else "2000",
                "--children", "50" if args.smoke else "200"])
    served = SERVED["smoke" if args.smoke else "full"]
    http.main(["--store", args.store, "--clients", args.threads, *served["http"]])
    lag.main(["--store", args.store, *served["lag"]])
    # The soak on one store (PostgreSQL when asked for): ten minutes each would be too long.
    soak_store = "postgres" if "postgres" in args.store.split(",") else args.store.split(",")[0]
    soak.main(["--store", soak_store, *served["soak"]])
    print(f"# done in {time.perf_counter() - started:.0f} s; {machine()}")


if __name__ == "__main__":
    main()
