#!/usr/bin/env python3
"""Draws docs/benchmarks.md's charts (SVG) from the JSON lines the benches print.

    cargo bench -p botbox --bench peers > /tmp/peers.jsonl
    cargo bench -p botbox --bench soak  > /tmp/soak.jsonl
    python3 scripts/bench_charts.py --peers /tmp/peers.jsonl --soak /tmp/soak.jsonl

Each input is optional; each chart is written to docs/img/. Standard library only.
"""

import argparse
import json
import pathlib
from html import escape

OUT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "img"
COLOURS = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#c53030", "#4a5568"]
FONT = 'font-family="system-ui, sans-serif" font-size="13"'


def read_lines(path):
    """The JSON objects of a bench's output (other lines are skipped)."""
    out = []
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def bars(title, rows, unit, note=""):
    """A horizontal bar chart: rows are (label, value, highlighted)."""
    width, left, bar_h, gap = 780, 230, 22, 8
    top = 48
    height = top + len(rows) * (bar_h + gap) + 40
    most = max((v for _, v, _ in rows), default=1) or 1
    span = width - left - 90
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="16" y="26" font-size="16" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value, mark) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = max(1, value / most * span)
        colour = COLOURS[0] if mark else "#a0aec0"
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 16}">{value:,.1f} {escape(unit)}</text>')
    if note:
        parts.append(f'<text x="16" y="{height - 14}" fill="#4a5568">{escape(note)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def lines(title, xs, series, x_unit, note=""):
    """A line chart: series are (name, values) on one vertical scale from 0."""
    width, height, left, right, top, bottom = 780, 320, 64, 250, 44, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    x_max = max(xs) or 1
    peak = max((max(v) for _, v in series), default=1) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="16" y="26" font-size="16" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#718096"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#718096"/>',
        f'<text x="{left}" y="{top + plot_h + 18}">0</text>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak:,.0f}</text>',
        f'<text x="{left + plot_w}" y="{top + plot_h + 18}" text-anchor="end">{x_max:,.0f} {escape(x_unit)}</text>',
    ]
    for i, (name, values) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(
            f"{left + x / x_max * plot_w:.1f},{top + plot_h - v / peak * plot_h:.1f}"
            for x, v in zip(xs, values)
        )
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        y = top + 14 + i * 20
        parts.append(f'<rect x="{left + plot_w + 14}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{left + plot_w + 32}" y="{y}">{escape(name)} (last {values[-1]:,.1f})</text>')
    if note:
        parts.append(f'<text x="16" y="{height - 14}" fill="#4a5568">{escape(note)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def soak_chart(objs):
    snaps = [o for o in objs if o.get("bench") == "soak" and o.get("at") != "end"]
    if not snaps:
        return {}
    xs = [o["updates"] for o in snaps]
    tables = sorted({t for o in snaps for t in o.get("rows", {})})
    rows = [(t, [o["rows"].get(t, 0) for o in snaps]) for t in tables]
    rows = [(t, v) for t, v in rows if max(v) > 0]
    sizes = [("database file MB", [o["db_file_mb"] for o in snaps])]
    if all("process_rss_mib" in o for o in snaps):
        sizes.append(("process RSS MiB", [o["process_rss_mib"] for o in snaps]))
    return {
        "soak-rows.svg": lines(
            "Retention soak: rows per table as updates flow", xs, rows, "updates",
            "retention on a 5 s horizon: rows level off instead of growing with the updates",
        ),
        "soak-sizes.svg": lines(
            "Retention soak: database file and resident memory", xs, sizes, "updates",
            "RSS is the bench process: the bot and the fake Bot API together",
        ),
    }


def peers_charts(objs):
    """Throughput, latency and memory per contestant from the peers bench's objects."""
    runs = [o for o in objs if "contestant" in o and o.get("updates_per_second")]
    out = {}
    if not runs:
        return out

    def label(o):
        return o["contestant"] + (" (durable)" if o.get("durable") else "")

    def mark(o):
        return o["contestant"] == "botbox"

    rows = sorted(((label(o), o["updates_per_second"], mark(o)) for o in runs), key=lambda r: -r[1])
    out["peers-throughput.svg"] = bars(
        "Clicker updates/s at saturation, polling one fake Bot API (higher is better)", rows, "/s"
    )
    steady = [o for o in runs if o.get("steady", {}).get("latency", {}).get("p99_ms") is not None]
    rows = sorted(
        ((label(o), o["steady"]["latency"]["p99_ms"], mark(o)) for o in steady), key=lambda r: r[1]
    )
    if rows:
        out["peers-latency.svg"] = bars(
            "Reply p99 at 1,000 updates/s (lower is better)",
            rows,
            "ms",
            "past a contestant's saturation the figure is mostly queueing",
        )
    rss = [o for o in runs if o.get("rss_mib_high_water_mark")]
    rows = sorted(((label(o), o["rss_mib_high_water_mark"], mark(o)) for o in rss), key=lambda r: r[1])
    if rows:
        out["peers-memory.svg"] = bars("Resident memory, high-water mark (lower is better)", rows, "MiB")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peers", help="output of cargo bench -p botbox --bench peers")
    ap.add_argument("--soak", help="output of cargo bench -p botbox --bench soak")
    args = ap.parse_args()
    charts = {}
    if args.peers:
        charts.update(peers_charts(read_lines(args.peers)))
    if args.soak:
        charts.update(soak_chart(read_lines(args.soak)))
    OUT.mkdir(parents=True, exist_ok=True)
    for name, svg in charts.items():
        (OUT / name).write_text(svg + "\n")
        print(f"wrote docs/img/{name}")
    if not charts:
        print("no figures found in the inputs")


if __name__ == "__main__":
    main()
