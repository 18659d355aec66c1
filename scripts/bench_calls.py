"""Helpers of the benchmark scripts (Python standard library only).

  python3 scripts/bench_calls.py log FILE     # calls, depth and calls by service of a proxy log,
                                              # then the operations along the longest chain
  python3 scripts/bench_calls.py cpu PID      # CPU seconds (user + system) of a process so far

FILE is the log of examples/latency_proxy.rs: one line per request,
`arrived_us answered_us status operation connection`.

depth is the longest chain of requests in which each one arrived after the
previous one had been answered. Every chain of requests that depend on each
other's answers is such a chain, so depth is an upper bound of the
dependency depth; with unbounded concurrency and the proxy's wave mode
(answers released together once all that arrived are answered), nothing
else lines up like that and depth is the number of sequential round trips.
"""

import collections
import os
import sys


def read_log(path):
    """The requests of a proxy log: (arrived_us, answered_us, status, operation)."""
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4:
                continue
            rows.append((int(parts[0]), int(parts[1]), int(parts[2]), parts[3]))
    return rows


def longest_chain(rows):
    """The longest chain of requests each arriving after the previous one was
    answered, as indices into rows, first to last."""
    by_start = sorted(range(len(rows)), key=lambda i: rows[i][0])
    by_end = sorted(range(len(rows)), key=lambda i: rows[i][1])
    depth = [0] * len(rows)
    previous = [None] * len(rows)
    best = None
    j = 0
    for i in by_start:
        start = rows[i][0]
        # every request answered before this one arrived also arrived before it
        while j < len(by_end) and rows[by_end[j]][1] <= start:
            if best is None or depth[by_end[j]] > depth[best]:
                best = by_end[j]
            j += 1
        depth[i] = 1 + (depth[best] if best is not None else 0)
        previous[i] = best
    last = max(range(len(rows)), key=lambda i: depth[i], default=None)
    chain = []
    while last is not None:
        chain.append(last)
        last = previous[last]
    return chain[::-1]


def chain_depth(rows):
    return len(longest_chain(rows))


def by_service(rows):
    counts = collections.Counter(op.split(":", 1)[0] for _, _, _, op in rows)
    return dict(sorted(counts.items()))


def proc_cpu(pid):
    """CPU seconds (user + system, all threads) a running process has used."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # the fields after the command name, which is in parentheses
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def main(argv):
    if len(argv) == 3 and argv[1] == "log":
        rows = read_log(argv[2])
        services = " ".join(f"{k}={v}" for k, v in by_service(rows).items())
        chain = longest_chain(rows)
        print(len(rows), len(chain), services)
        print(" > ".join(rows[i][3] for i in chain))
    elif len(argv) == 3 and argv[1] == "cpu":
        print(f"{proc_cpu(int(argv[2])):.2f}")
    else:
        sys.exit("usage: bench_calls.py log FILE | cpu PID")


if __name__ == "__main__":
    main(sys.argv)
