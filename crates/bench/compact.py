"""The compaction benchmark (`make bench-compact`): many small arrivals into one table, then
`sluice compact`, and what it changed.

1,000 small NDJSON files (sluice-gen's small files, orders over seven days) are ingested with
`sluice ingest` into a fresh workspace: one data file per arrival per day. Then `sluice
compact` runs as its own process (wall time and peak RSS from wait4). Before and after, the
live data files per partition are counted, and two scans are timed: `count(*)` and
`sum(amount) where status = 'paid'`, with pyiceberg (`scan(row_filter=...)`, through the
table's metadata) and, when the DuckDB interpreter is given, with DuckDB over the table's
live Parquet files (`read_parquet([...])`, no extension needed). Each scan runs `--runs`
times; the best is kept.

Run with an interpreter that has pyiceberg (make venv's); `--duckdb-python` is the bench
venv's interpreter, which has DuckDB. Writes target/bench-compact.md and .json.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "fixtures" / "sluice-small-files.toml"
NAMESPACE_TABLE = "bench.orders"
TARGETS = {"scan_ratio": 5.0, "rss_mb": 512.0}


def measure(cmd):
    """Runs cmd as a child; wall s, peak RSS MB (wait4: this child's own) and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            raise SystemExit(f"{' '.join(map(str, cmd))} exited {code}:\n"
                             f"{err.read().decode(errors='replace')[-4000:]}")
        return {"wall_s": wall, "rss_mb": usage.ru_maxrss / 1024,
                "stdout": out.read().decode(errors="replace")}


def load_table(ws):
    from pyiceberg.catalog.sql import SqlCatalog
    catalog = SqlCatalog("sluice", uri=f"sqlite:///{ws}/catalog.db",
                         warehouse=f"file://{ws}/warehouse")
    return catalog.load_table(NAMESPACE_TABLE)


def live_files(table):
    """Live data files: path, partition (as a path, `ordered_at_day=2026-03-01`), bytes."""
    spec, schema = table.spec(), table.schema()
    files = []
    for task in table.scan().plan_files():
        f = task.file
        try:
            partition = spec.partition_to_path(f.partition, schema)
        except Exception:  # an older pyiceberg: its own text for the record
            partition = str(f.partition)
        files.append({"path": f.file_path, "partition": partition,
                      "bytes": f.file_size_in_bytes})
    return files


def per_partition(files, target):
    by = {}
    for f in files:
        p = by.setdefault(f["partition"], {"files": 0, "below_target": 0, "bytes": 0})
        p["files"] += 1
        p["bytes"] += f["bytes"]
        p["below_target"] += f["bytes"] < target
    return by


def best_of(runs, fn):
    best, value = None, None
    for _ in range(runs):
        started = time.perf_counter()
        value = fn()
        took = time.perf_counter() - started
        best = took if best is None else min(best, took)
    return best, value


def pyiceberg_scans(ws, runs):
    from pyiceberg.expressions import EqualTo
    table = load_table(ws)
    count_s, count = best_of(runs, lambda: table.scan(selected_fields=("order_id",))
                             .to_arrow().num_rows)

    def paid():
        rows = table.scan(row_filter=EqualTo("status", "paid"),
                          selected_fields=("amount",)).to_arrow()
        return float(sum(v for v in rows.column("amount").to_pylist() if v is not None))

    sum_s, total = best_of(runs, paid)
    return {"count_s": count_s, "count": count, "sum_s": sum_s, "sum": round(total, 2)}


DUCKDB_SCRIPT = r"""
import json, sys, time
import duckdb
paths, runs = json.loads(sys.stdin.read()), int(sys.argv[1])
con = duckdb.connect()
files = "[" + ",".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
def best(sql):
    took, value = None, None
    for _ in range(runs):
        started = time.perf_counter()
        value = con.execute(sql).fetchone()[0]
        t = time.perf_counter() - started
        took = t if took is None else min(took, t)
    return took, value
count_s, count = best(f"SELECT count(*) FROM read_parquet({files})")
sum_s, total = best(f"SELECT sum(amount) FROM read_parquet({files}) WHERE status = 'paid'")
print(json.dumps({"count_s": count_s, "count": count, "sum_s": sum_s,
                  "sum": round(float(total or 0), 2)}))
"""


def duckdb_scans(python, files, runs):
    if not python:
        return None
    paths = [f["path"].removeprefix("file://") for f in files]
    out = subprocess.run([python, "-c", DUCKDB_SCRIPT, str(runs)], input=json.dumps(paths),
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  duckdb: {out.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return json.loads(out.stdout)


def state(ws, target, runs, duckdb_python):
    files = live_files(load_table(ws))
    return {"files": len(files), "partitions": per_partition(files, target),
            "pyiceberg": pyiceberg_scans(ws, runs),
            "duckdb": duckdb_scans(duckdb_python, files, runs)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sluice", required=True)
    p.add_argument("--gen", required=True, help="sluice-gen")
    p.add_argument("--data", default="target/bench-compact-data")
    p.add_argument("--work", default="target/bench-work")
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--file-bytes", type=int, default=16384)
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--target-file-size", default="256MB")
    p.add_argument("--duckdb-python", default=None)
    p.add_argument("--out", default="target/bench-compact")
    p.add_argument("--build", default="release", help="how --sluice was built, for the record")
    args = p.parse_args()

    data = Path(args.data)
    subprocess.run([args.gen, "--out", data, "--rows", "1000", "--small-files", str(args.files),
                    "--small-file-bytes", str(args.file_bytes)], check=True,
                   stdout=subprocess.DEVNULL)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    ws = Path(tempfile.mkdtemp(prefix="sluice-compact-", dir=args.work)).resolve()
    sluice = [args.sluice, "--config", CONFIG, "--workspace", ws]
    target = parse_size(args.target_file_size)

    ingest = measure(sluice + ["ingest", "--table", "orders", "-j", args.jobs, data / "small"])
    print(f"ingested {args.files} files in {ingest['wall_s']:.1f} s", flush=True)
    before = state(ws, target, args.runs, args.duckdb_python)
    compact = measure(sluice + ["compact", "--table", "orders", "--target-file-size",
                                args.target_file_size, "--json"])
    report = json.loads(compact["stdout"].splitlines()[-1])
    after = state(ws, target, args.runs, args.duckdb_python)

    result = {"build": args.build, "files_ingested": args.files, "ingest_s": ingest["wall_s"],
              "compact_s": compact["wall_s"], "compact_rss_mb": compact["rss_mb"],
              "before": before, "after": after, "report": report}
    lines = render(result, target)
    print("\n".join(lines))
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    Path(args.out + ".json").write_text(json.dumps(result, indent=2) + "\n")
    if before["pyiceberg"]["count"] != after["pyiceberg"]["count"] or \
            before["pyiceberg"]["sum"] != after["pyiceberg"]["sum"]:
        raise SystemExit("the rows changed")


def parse_size(text):
    units = {"": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20,
             "g": 30, "gb": 30, "gib": 30}
    digits = "".join(c for c in text if c.isdigit())
    return int(digits) << units[text[len(digits):].strip().lower()]


def render(r, target):
    b, a = r["before"], r["after"]
    lines = ["# sluice compact", "",
             f"{r['files_ingested']:,} small arrivals ingested in {r['ingest_s']:.1f} s; "
             f"`sluice compact` took {r['compact_s']:.2f} s, peak RSS {r['compact_rss_mb']:.0f} MB",
             "", "| partition | files before | files after | below target after |",
             "|---|---:|---:|---:|"]
    for part in sorted(set(b["partitions"]) | set(a["partitions"])):
        pb, pa = b["partitions"].get(part, {}), a["partitions"].get(part, {})
        lines.append(f"| {part} | {pb.get('files', 0)} | {pa.get('files', 0)} | "
                     f"{pa.get('below_target', 0)} |")
    lines.append(f"| all | {b['files']} | {a['files']} | |")
    lines += ["", f"rows: {b['pyiceberg']['count']:,} before, {a['pyiceberg']['count']:,} after; "
              f"sum(amount) of paid orders {b['pyiceberg']['sum']} before, "
              f"{a['pyiceberg']['sum']} after (sluice built {r['build']})"]
    lines += ["", "| scan | before s | after s | speed-up |", "|---|---:|---:|---:|"]
    ratios = []
    for engine in ("pyiceberg", "duckdb"):
        if not b[engine] or not a[engine]:
            lines.append(f"| {engine} | not run | | |")
            continue
        for name, key in (("count(*)", "count_s"), ("sum(amount) where status = 'paid'", "sum_s")):
            ratio = b[engine][key] / a[engine][key]
            ratios.append(ratio)
            lines.append(f"| {engine} {name} | {b[engine][key]:.3f} | {a[engine][key]:.3f} | "
                         f"{ratio:.1f}× |")
    most_small = max((p["below_target"] for p in a["partitions"].values()), default=0)
    lines += ["",
              check("at most one file per partition below the target after", most_small <= 1,
                    f"{most_small} at most"),
              check(f"filtered scans ≥ {TARGETS['scan_ratio']:.0f}× faster",
                    min(ratios, default=0) >= TARGETS["scan_ratio"],
                    f"{min(ratios, default=0):.1f}× the least"),
              check(f"peak RSS ≤ {TARGETS['rss_mb']:.0f} MB", r["compact_rss_mb"] <= TARGETS["rss_mb"],
                    f"{r['compact_rss_mb']:.0f} MB")]
    return lines


def check(what, ok, detail):
    return f"- {'met' if ok else 'NOT met'}: {what} ({detail})"


if __name__ == "__main__":
    sys.exit(main())
