"""The schedule of a synthetic plan: critical path, slack and forecasts (issue 19: 400
activities in under 20 ms). Pure computation (apps/launches/schedule.py), no database.

    python -m bench.schedule [--activities 400] [--repeats 50]

Prints one JSON line: the activities, the median and the slowest time of `plan()`, in ms.
"""

import argparse
import json
import random
import statistics
import sys
import time

from apps.launches.schedule import Task, plan


def synthetic(count: int, seed: int = 19) -> tuple[list[Task], str]:
    """`count` activities of one or two weeks, each waiting for up to three earlier ones, some
    with a week of buffer, plus the Go/No-Go waiting for the last twenty: the target."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible data set, not a secret
    tasks: list[Task] = []
    for i in range(count):
        before = rng.sample(range(i), min(i, rng.randint(0, 3)))
        start = max((tasks[j].end for j in before), default=0) + rng.choice((0, 0, 7))
        end = start + 7 * rng.randint(1, 2)
        after = tuple(f"a{j}" for j in before)
        tasks.append(Task(f"a{i}", start, end, after, done=rng.random() < 0.3))
    last = max(t.end for t in tasks)
    tasks.append(Task("go-no-go", last, last + 7, tuple(t.key for t in tasks[-20:])))
    return tasks, "go-no-go"


def measure(count: int = 400, repeats: int = 50) -> dict:
    tasks, target = synthetic(count)
    today = max(t.end for t in tasks) // 2  # half the plan behind: many slips to forecast
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        plan(tasks, today=today, target=target)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "activities": len(tasks),
        "p50_ms": round(statistics.median(times), 2),
        "max_ms": round(max(times), 2),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.activities, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
