"""Charts for `npm run bench:routing` (matplotlib, installed in .cache/venv-bench).

usage: charts.py <result.json> <out dir>
Writes routing-ttft.png (TTFT p50 / p90 vs offered QPS), routing-throughput.png (output tokens/s
vs QPS) and routing-cache-hit.png (prefix-cache hit rate vs QPS), one line per policy.
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

res = json.loads(Path(sys.argv[1]).read_text())
out = Path(sys.argv[2])
pols = [p for p in res["policies"] if p["stages"]]
styles = {"rr": ("#7f7f7f", "o"), "load": ("#bcbd22", "s"), "approx": ("#1f77b4", "^"),
          "precise": ("#d62728", "D"), "sticky": ("#9467bd", "v"), "llmd": ("#2ca02c", "P"),
          "approx-filter": ("#17becf", "<"), "precise-filter": ("#ff7f0e", ">"), "ttft": ("#8c564b", "*")}
w = res["workload"]
if w.get("kind", "shared-prefix") == "shared-prefix" and "numGroups" in w:
    shape = f"shared prefix {w['numGroups']}×{w['promptsPerGroup']}"
else:
    shape = f"{w.get('id', w.get('kind'))} (seed {w.get('seed')})"
cache = (f"cache = working set ÷ {res['sims']['cacheFraction']}" if res["sims"].get("cacheFraction")
         else f"cache {res['sims']['kvTokensPerSim']} tok/sim, working set {w['workingSetTokens']} tok")
sub = (f"{res['sims']['count']} llm-d-inference-sim · {shape}, "
       f"~{w['meanPromptTokens']} prompt tok, {w['outputLen']} out · {cache}")


def series(p, key):
    xs, ys = [], []
    for s in p["stages"]:
        if s.get(key) is not None:
            xs.append(s["qps"])
            ys.append(s[key])
    return xs, ys


def style(ax, title, ylabel, log=False):
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("offered QPS (Poisson)")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.grid(True, which="both", alpha=0.3)


# TTFT p50 and p90
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), dpi=110)
for ax, key, name in ((axes[0], "ttftP50S", "TTFT p50"), (axes[1], "ttftP90S", "TTFT p90")):
    for p in pols:
        c, m = styles.get(p["id"], (None, "o"))
        ax.plot(*series(p, key), marker=m, color=c, label=p["label"])
    style(ax, name, "seconds (log scale)", log=True)
axes[1].legend(fontsize=8, loc="upper left")
fig.suptitle(sub, fontsize=9)
fig.tight_layout()
fig.savefig(out / "routing-ttft.png")
plt.close(fig)

# throughput
fig, ax = plt.subplots(figsize=(7, 4.8), dpi=110)
for p in pols:
    c, m = styles.get(p["id"], (None, "o"))
    ax.plot(*series(p, "outputTokensPerS"), marker=m, color=c, label=p["label"])
xs = sorted({s["qps"] for p in pols for s in p["stages"]})
ax.plot(xs, [q * w["outputLen"] for q in xs], ls=":", color="black", lw=1, label="offered (QPS × output len)")
style(ax, "Output tokens/s", "tokens/s")
ax.legend(fontsize=8)
fig.suptitle(sub, fontsize=8)
fig.tight_layout()
fig.savefig(out / "routing-throughput.png")
plt.close(fig)

# cache-hit rate
fig, ax = plt.subplots(figsize=(7, 4.8), dpi=110)
for p in pols:
    c, m = styles.get(p["id"], (None, "o"))
    ax.plot(*series(p, "cacheHitRate"), marker=m, color=c, label=p["label"])
style(ax, "Prefix-cache hit rate (cached ÷ prompt tokens, from the sims' usage)", "fraction")
ax.set_ylim(0, 1)
ax.legend(fontsize=8)
fig.suptitle(sub, fontsize=8)
fig.tight_layout()
fig.savefig(out / "routing-cache-hit.png")
plt.close(fig)
print(f"charts: {out}/routing-ttft.png, routing-throughput.png, routing-cache-hit.png")

# one chart per workload for the results page: TTFT p90 and cache hit vs QPS, per policy
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), dpi=110)
for p in pols:
    c, m = styles.get(p["id"], (None, "o"))
    axes[0].plot(*series(p, "ttftP90S"), marker=m, color=c, label=p["label"])
    axes[1].plot(*series(p, "cacheHitRate"), marker=m, color=c, label=p["label"])
style(axes[0], "TTFT p90 (routed requests)", "seconds (log scale)", log=True)
style(axes[1], "Prefix-cache hit rate (routed requests)", "fraction")
axes[1].set_ylim(0, 1)
axes[0].legend(fontsize=7, loc="upper left")
fig.suptitle(sub, fontsize=8)
fig.tight_layout()
fig.savefig(out / "routing-summary.png")
plt.close(fig)
print(f"charts: {out}/routing-summary.png")
