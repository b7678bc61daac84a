#!/usr/bin/env python3
"""Draws benches/convergence-vs-clients.png from the CSV `reflectd-load compare --csv` writes.

Rows of the client sweep (scenarios S<N>, from `--sweep`) give two panels per reflector:
convergence time against clients, and the reflector's CPU microseconds per thousand prefix
deliveries against clients (flat = cost per client does not grow with the number of clients).

    pip install matplotlib
    python3 benches/plot.py /tmp/sweep.csv benches/convergence-vs-clients.png
"""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    series = defaultdict(list)
    prefixes = set()
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if not row["scenario"].startswith("S") or not row["convergence_s"]:
                continue
            sinks = int(row["sinks"])
            conv = float(row["convergence_s"])
            cpu = float(row["cpu_s"]) if row["cpu_s"] else None
            deliveries = sinks * int(row["prefixes"]) * int(row["speakers"])
            cost = cpu * 1e6 / (deliveries / 1e3) if cpu is not None else None
            series[row["reflector"]].append((sinks, conv, cost))
            prefixes.add(int(row["prefixes"]))
    for points in series.values():
        points.sort()
    return series, prefixes


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    series, prefixes = load(sys.argv[1])
    if not series:
        sys.exit(f"{sys.argv[1]}: no sweep rows (scenarios S<N> with a convergence time)")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, points) in enumerate(sorted(series.items())):
        style = dict(marker="o", label=name, color=colors[i % len(colors)])
        if name == "floor":
            style.update(linestyle="--", label="floor (load tool, no reflector)")
        xs = [p[0] for p in points]
        ax1.plot(xs, [p[1] for p in points], **style)
        costs = [(p[0], p[2]) for p in points if p[2] is not None]
        if costs:
            ax2.plot([c[0] for c in costs], [c[1] for c in costs], **style)
    table = "/".join(f"{p // 1000}k" for p in sorted(prefixes))
    ax1.set(
        xscale="log",
        yscale="log",
        xlabel="route-reflector clients",
        ylabel="convergence s (first UPDATE to last client complete)",
        title=f"1 speaker x {table} IPv4 prefixes -> N clients",
    )
    ax2.set(
        xscale="log",
        yscale="log",
        xlabel="route-reflector clients",
        ylabel="reflector CPU µs per 1000 deliveries",
        title="cost per delivered prefix (flat = per-client cost constant)",
    )
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
