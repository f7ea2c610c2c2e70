"""Python's cost per decision with the `writ` package (bench/bindings.sh): `decide` on dicts,
on JSON text, and `decide_json` (text to text), over the requests of a JSON-lines file, best
of several rounds. Prints one JSON object of nanoseconds per decision."""

import json
import sys
import time

import writ

policy = writ.Policy.load(sys.argv[1])
lines = [l for l in open(sys.argv[2]).read().splitlines() if l.strip()]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
dicts = [json.loads(l) for l in lines]
per_round = 200_000 // len(lines)


def best(fn, items):
    out = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(per_round):
            for item in items:
                fn(item)
        out = min(out, (time.perf_counter_ns() - start) / (per_round * len(items)))
    return out


def loop_only(items):
    """The cost of the measuring loop itself (a no-op call), subtracted from nothing: reported."""
    return best(lambda _: None, items)


print(json.dumps({
    "decide_dict": best(policy.decide, dicts),
    "decide_str": best(policy.decide, lines),
    "decide_json": best(policy.decide_json, lines),
    "loop": loop_only(dicts),
    "python": sys.version.split()[0],
}))
