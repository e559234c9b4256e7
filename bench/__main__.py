"""Everything at once: python -m bench [--smoke] [--store sqlite,postgres]."""

import argparse
import os
import platform
import time
from collections.abc import Sequence

from bench import commands, rebuild

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
    args = parser.parse_args(argv)
    size = SIZES["smoke" if args.smoke else "full"]
    children, visits, repeat = size["commands"]
    started = time.perf_counter()
    print(f"# bench {'smoke' if args.smoke else 'full'}: {machine()}", flush=True)
    commands.main(["--store", args.store, "--children", str(children),
                   "--visits", str(visits), "--threads", args.threads,
                   "--repeat", str(repeat)])
    rebuild.main(["--store", args.store, "--children", str(size["rebuild"])])
    print(f"# done in {time.perf_counter() - started:.0f} s; {machine()}")


if __name__ == "__main__":
    main()
