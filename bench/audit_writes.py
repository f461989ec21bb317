"""Audited writes per second: two launches written side by side, against one launch alone.

    python -m bench.audit_writes [--seconds S] [--writers N] [--rounds R] [SLUG_A SLUG_B]

The same writers (processes, each with its own database connection) append `record()` events,
one per transaction, for `seconds`: first all to launch A's chain, then half to A's and half to B's.
A writer holds its chain's lock until it commits, so one chain takes its writers' commits one
after another, and two chains take theirs side by side. Prints JSON.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import time

from bench import dataset

ACTION = "bench.audited_write"


def audited_writes(
    *, slugs: tuple[str, str], seconds: float = 5.0, writers: int = 2, rounds: int = 3
) -> dict:
    """Writes per second to one launch's chain, then to two launches' chains side by side; the
    two alternate `rounds` times and each figure is the median (the machine may be shared)."""
    one, two = [], []
    for _ in range(rounds):
        one.append(_writes_per_s([slugs[0]] * writers, seconds))
        two.append(_writes_per_s([slugs[i % 2] for i in range(writers)], seconds))
    one_per_s, two_per_s = statistics.median(one), statistics.median(two)
    return {"writers": writers, "seconds": seconds, "rounds": rounds,
            "one_launch_per_s": one_per_s, "two_launches_per_s": two_per_s,
            "ratio": round(two_per_s / one_per_s, 2) if one_per_s else None}  # fmt: skip


def _writes_per_s(launches: list[str], seconds: float) -> float:
    """Each writer a process (a Python of its own, as gunicorn and Celery workers are)."""
    spawn = multiprocessing.get_context("spawn")
    start, stop = spawn.Barrier(len(launches) + 1), spawn.Event()
    counts = spawn.Array("i", len(launches))
    writers = [spawn.Process(target=_writer, args=(slug, i, counts, start, stop))
               for i, slug in enumerate(launches)]  # fmt: skip
    for writer in writers:
        writer.start()
    start.wait(timeout=120)
    began = time.monotonic()
    time.sleep(seconds)
    stop.set()
    for writer in writers:
        writer.join(timeout=60)
    return round(sum(counts) / (time.monotonic() - began), 1)


def _writer(slug: str, index: int, counts, start, stop) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from apps.audit.services import record

    record_one = transaction.atomic()(record)  # one event, one transaction
    record_one(actor="bench", action=ACTION, launch_slug=slug, data={"writer": index})  # warm
    start.wait(timeout=120)
    while not stop.is_set():
        record_one(actor="bench", action=ACTION, launch_slug=slug, data={"writer": index})
        counts[index] += 1
    connection.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    params = dataset.Params()
    parser.add_argument("slugs", nargs="*", default=[params.slug(0), params.slug(1)])
    args = parser.parse_args(argv)
    if len(args.slugs) != 2 or args.writers < 2:
        parser.error("two launches, and at least two writers")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    found = audited_writes(slugs=tuple(args.slugs), seconds=args.seconds, writers=args.writers,
                           rounds=args.rounds)  # fmt: skip
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
