"""sluice's validated ingest beside DuckDB and pyarrow, on the same generated files, in one run.

Every measurement is its own process: wall seconds, peak RSS (the child's ru_maxrss from
wait4) and user+sys CPU seconds; the median of --runs runs is reported. rows/s counts the
input file's rows for every tool, so the ratios compare the same work offered. sluice runs
end to end (`sluice ingest` into a fresh workspace per run: landing, drift, validation against
the contract, Parquet, the Iceberg commit) and its committed row count is checked against the
generator's count of valid rows after every run.

Also: 1,000 small files arriving at once (`sluice ingest -j N`, group commit), the row
validation micro-benchmark (criterion's estimate) beside Python jsonschema and fastjsonschema,
and with --big, peak RSS on the very large NDJSON file. Writes RESULTS.md and RESULTS.json.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
PEERS = HERE / "peers.py"


def measure(cmd, timeout=None):
    """Runs cmd as a child process; returns wall s, peak RSS MB, CPU s. A child still running
    after `timeout` seconds is killed and reported as an error."""
    # stderr goes to a file, not a pipe: a pipe nobody reads until the child exits fills up
    # with its log lines and then blocks the child.
    with tempfile.TemporaryFile() as err:
        # Written data the last run left for the kernel to flush is flushed now, not during
        # this run: a tool that fsyncs (sluice does, DuckDB and pyarrow do not) would otherwise
        # wait for another tool's output, and whichever runs next pays for it.
        os.sync()
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        timer = None
        if timeout:
            timer = threading.Timer(timeout, child.kill)
            timer.start()
        # wait4 gives this child's own rusage.
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        if timer:
            timer.cancel()
        code = os.waitstatus_to_exitcode(status)
        child.returncode = code
        if code != 0:
            err.seek(0)
            stderr = err.read().decode(errors="replace")
            raise RuntimeError(f"{' '.join(map(str, cmd))} exited {code}:\n{stderr[-4000:]}")
    return {
        "wall_s": wall,
        "rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def median_of(samples):
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


class Bench:
    def __init__(self, args):
        self.args = args
        self.data = Path(args.data)
        self.manifest = json.loads((self.data / "manifest.json").read_text())
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.rows = []

    def sluice(self, *args, config="sluice.toml"):
        return [self.args.sluice, "--config", str(FIXTURES / config), *map(str, args)]

    def table_json(self, ws, table, config="sluice.toml"):
        out = subprocess.run(
            self.sluice("--workspace", ws, "table", "show", table, "--json", config=config),
            check=True, capture_output=True, text=True,
        ).stdout
        return json.loads(out)

    def sluice_once(self, fmt, threads, path, expected):
        table = "orders" if fmt == "ndjson" else "orders_flat"
        ws = Path(tempfile.mkdtemp(prefix="sluice-", dir=self.work))
        try:
            m = measure(self.sluice("--threads", threads, "--workspace", ws, "ingest",
                                    "--table", table, path))
            committed = self.table_json(ws, table)["total_records"]
        finally:
            shutil.rmtree(ws, ignore_errors=True)
        if committed != expected:
            raise SystemExit(f"sluice committed {committed} rows of {path}, the generator "
                             f"wrote {expected} valid rows")
        m["rows_out"] = committed
        return m

    def peer_once(self, tool, fmt, threads, path):
        import pyarrow.parquet as pq

        dst = self.work / f"{tool}-{fmt}-{threads}.parquet"
        m = measure([sys.executable, PEERS, tool, fmt, str(threads), path, dst])
        m["rows_out"] = pq.ParquetFile(dst).metadata.num_rows
        dst.unlink()
        return m

    def record(self, tool, fmt, threads, m, note=""):
        rows = self.manifest[fmt]["rows"]
        row = {
            "tool": tool, "format": fmt, "threads": threads,
            "input_rows": rows, "rows_out": int(m["rows_out"]),
            "wall_s": m["wall_s"], "rows_per_s": rows / m["wall_s"],
            "mb_per_s": self.manifest[fmt]["bytes"] / 1e6 / m["wall_s"],
            "rss_mb": m["rss_mb"], "cpu_s": m["cpu_s"], "note": note,
        }
        self.rows.append(row)
        print(f"  {tool:8} {fmt:6} {threads} threads: {row['wall_s']:.2f} s, "
              f"{row['rows_per_s']:,.0f} rows/s, {row['rss_mb']:.0f} MB, {row['cpu_s']:.2f} CPU s",
              flush=True)

    def ingest(self):
        notes = {
            "sluice": "validated, Iceberg commit",
            "duckdb": "no contract; skips unreadable rows",
            "pyarrow": "no contract; valid rows only (cannot skip bad lines)",
        }
        for fmt in ("ndjson", "csv"):
            path = self.data / ("orders.ndjson" if fmt == "ndjson" else "orders.csv")
            valid_copy = self.data / ("orders-valid.ndjson" if fmt == "ndjson" else "orders-valid.csv")
            expected = self.manifest[fmt]["valid"]
            for threads in self.args.threads:
                # The tools take turns run by run, so a change in the machine's load over the
                # minutes of a benchmark falls on all of them alike.
                samples = {tool: [] for tool in notes}
                for _ in range(self.args.runs):
                    samples["sluice"].append(self.sluice_once(fmt, threads, path, expected))
                    samples["duckdb"].append(self.peer_once("duckdb", fmt, threads, path))
                    samples["pyarrow"].append(self.peer_once("pyarrow", fmt, threads, valid_copy))
                for tool, runs in samples.items():
                    self.record(tool, fmt, threads, median_of(runs), notes[tool])
        for row in self.rows:
            peer = next(r for r in self.rows if r["tool"] == "duckdb"
                        and r["format"] == row["format"] and r["threads"] == row["threads"])
            row["vs_duckdb"] = row["rows_per_s"] / peer["rows_per_s"]

    def small_files(self):
        ws = Path(tempfile.mkdtemp(prefix="sluice-small-", dir=self.work))
        config = "sluice-small-files.toml"
        files = self.manifest["small_files"]
        # The report names the group limit the run had, read from the configuration it used.
        with open(FIXTURES / config, "rb") as f:
            max_batches = tomllib.load(f)["commit"]["max_batches"]
        self.small = {"files": files, "jobs": self.args.jobs, "max_batches": max_batches,
                      "error": None}
        try:
            m = measure(self.sluice("--workspace", ws, "ingest", "--table", "orders",
                                    "-j", self.args.jobs, self.data / "small", config=config),
                        timeout=self.args.small_timeout)
            table = self.table_json(ws, "orders", config=config)
        except RuntimeError as e:
            # A run that hangs or fails is a finding to report, not a reason to lose the rest.
            self.small["error"] = str(e).splitlines()[0]
            print(f"  small files: did not finish: {self.small['error']}", flush=True)
            return
        finally:
            shutil.rmtree(ws, ignore_errors=True)
        expected = self.manifest["small"]["valid"]
        if table["total_records"] != expected:
            raise SystemExit(f"small files: {table['total_records']} rows committed, "
                             f"{expected} expected")
        self.small.update({
            "wall_s": m["wall_s"], "files_per_s": files / m["wall_s"],
            "snapshots": len(table["snapshots"]), "rows": table["total_records"],
            "rss_mb": m["rss_mb"], "cpu_s": m["cpu_s"],
        })
        print(f"  small files: {files} files in {m['wall_s']:.1f} s, "
              f"{self.small['files_per_s']:.0f} files/s, {self.small['snapshots']} snapshots",
              flush=True)

    def validation(self):
        def rate(name):
            est = Path(self.args.criterion) / "validate" / name / "new"
            ns = json.loads((est / "estimates.json").read_text())["mean"]["point_estimate"]
            bench = json.loads((est / "benchmark.json").read_text())
            n = bench["throughput"]["Elements"]
            return n, n / (ns / 1e9)
        n, ours = rate("sluice_contract")
        _, plan = rate("sluice_plan")
        out = subprocess.run(
            [sys.executable, PEERS, "validate", FIXTURES / "orders.schema.json",
             self.data / "orders.ndjson", str(self.args.validate_rows)],
            check=True, capture_output=True, text=True,
        ).stdout
        peers = json.loads(out)
        self.validate = {
            "rows": n, "sluice_rows_per_s": ours, "plan_rows_per_s": plan,
            "plan_vs_fastjsonschema": plan / peers["fastjsonschema"]["rows_per_s"],
            "jsonschema_rows_per_s": peers["jsonschema"]["rows_per_s"],
            "fastjsonschema_rows_per_s": peers["fastjsonschema"]["rows_per_s"],
            "vs_jsonschema": ours / peers["jsonschema"]["rows_per_s"],
            "vs_fastjsonschema": ours / peers["fastjsonschema"]["rows_per_s"],
            "peer_rows": peers["rows"],
            "versions": {k: peers[k]["version"] for k in ("jsonschema", "fastjsonschema")},
        }
        print(f"  validation: sluice plan {plan:,.0f} rows/s (from text, with columns), "
              f"contract {ours:,.0f} rows/s, jsonschema "
              f"{self.validate['jsonschema_rows_per_s']:,.0f}, fastjsonschema "
              f"{self.validate['fastjsonschema_rows_per_s']:,.0f}", flush=True)

    def spread(self):
        spread = self.manifest.get("spread")
        if not spread:
            raise SystemExit("spread: the generator wrote no orders-spread.ndjson (sluice-gen --spread-rows)")
        threads = max(self.args.threads)
        path = self.data / "orders-spread.ndjson"
        result = {"rows": spread["rows"], "bytes": spread["bytes"],
                  "days": self.manifest.get("spread_days"), "threads": threads}
        for table in ("orders", "orders_whole"):
            samples = []
            for _ in range(self.args.runs):
                ws = Path(tempfile.mkdtemp(prefix="sluice-spread-", dir=self.work))
                try:
                    m = measure(self.sluice("--threads", threads, "--workspace", ws, "ingest",
                                            "--table", table, path))
                    shown = self.table_json(ws, table)
                finally:
                    shutil.rmtree(ws, ignore_errors=True)
                if shown["total_records"] != spread["valid"]:
                    raise SystemExit(f"spread file into {table}: {shown['total_records']} rows "
                                     f"committed, {spread['valid']} expected")
                m["files"] = int(shown["snapshots"][-1]["summary"]["total-data-files"])
                samples.append(m)
            result[table] = median_of(samples)
        result["vs_whole"] = result["orders"]["wall_s"] / result["orders_whole"]["wall_s"]
        self.spread_result = result
        print(f"  spread over {result['days']} days: {result['orders']['wall_s']:.2f} s, "
              f"{result['orders']['rss_mb']:.0f} MB, {result['orders']['files']:.0f} files; "
              f"unpartitioned {result['orders_whole']['wall_s']:.2f} s, "
              f"{result['orders_whole']['rss_mb']:.0f} MB", flush=True)

    def big(self):
        big = self.manifest.get("big")
        if not big:
            raise SystemExit("--big: the generator wrote no orders-big.ndjson (sluice-gen --big-rows)")
        threads = max(self.args.threads)
        ws = Path(tempfile.mkdtemp(prefix="sluice-big-", dir=self.work))
        try:
            m = measure(self.sluice("--threads", threads, "--workspace", ws, "ingest",
                                    "--table", "orders", self.data / "orders-big.ndjson"))
            committed = self.table_json(ws, "orders")["total_records"]
        finally:
            shutil.rmtree(ws, ignore_errors=True)
        if committed != big["valid"]:
            raise SystemExit(f"big file: {committed} rows committed, {big['valid']} expected")
        small = next(r for r in self.rows if r["tool"] == "sluice" and r["format"] == "ndjson"
                     and r["threads"] == threads)
        self.big_result = {
            "bytes": big["bytes"], "rows": big["rows"], "threads": threads,
            "wall_s": m["wall_s"], "rows_per_s": big["rows"] / m["wall_s"], "rss_mb": m["rss_mb"],
            "cpu_s": m["cpu_s"], "rss_mb_small": small["rss_mb"],
            "vs_small": m["rss_mb"] / small["rss_mb"],
        }
        print(f"  big: {big['bytes'] / 1e9:.2f} GB in {m['wall_s']:.0f} s, peak RSS "
              f"{m['rss_mb']:.0f} MB ({small['rss_mb']:.0f} MB on the smaller file)", flush=True)


def machine():
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "cpu": model, "ram_gb": round(mem, 1),
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version()}


def check(name, ok, detail):
    return f"| {name} | {'met' if ok else 'NOT met'} | {detail} |"


def report(b):
    m = b.manifest
    lines = [
        "| tool | format | threads | wall s | rows/s | MB/s | peak RSS MB | CPU s | vs DuckDB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in b.rows:
        lines.append(
            f"| {r['tool']} | {r['format']} | {r['threads']} | {r['wall_s']:.2f} | "
            f"{r['rows_per_s']:,.0f} | {r['mb_per_s']:.1f} | {r['rss_mb']:.0f} | "
            f"{r['cpu_s']:.2f} | {r['vs_duckdb']:.2f}× |")
    lines += [
        "",
        f"Input: {m['ndjson']['rows']:,} orders ({m['ndjson']['bytes'] / 1e6:.0f} MB NDJSON, "
        f"{m['csv']['bytes'] / 1e6:.0f} MB CSV), {m['ndjson']['rows'] - m['ndjson']['valid']:,} "
        f"of them broken; sluice committed {m['ndjson']['valid']:,} rows of each file (checked "
        f"after every run). rows/s counts input rows for every tool; median of {b.args.runs} "
        "runs. DuckDB checks no contract and skips what it cannot read; pyarrow reads the "
        "copies without broken rows (it cannot skip a bad line).",
        "",
    ]
    v = b.validate
    lines += [] if not v else [
        f"Row validation ({v['rows']:,} rows of orders.ndjson, the orders contract): sluice's "
        f"compiled plan {v['plan_rows_per_s']:,.0f} rows/s from each row's text (parsing, checking "
        f"and building the Arrow columns), sluice's jsonschema contract "
        f"{v['sluice_rows_per_s']:,.0f} rows/s on parsed rows; on parsed rows, Python jsonschema "
        f"{v['versions']['jsonschema']} {v['jsonschema_rows_per_s']:,.0f} rows/s, fastjsonschema "
        f"{v['versions']['fastjsonschema']} {v['fastjsonschema_rows_per_s']:,.0f} rows/s.",
        "",
    ]
    s = b.small
    if s and s["error"]:
        lines += [f"Small files: {s['files']:,} files of about 2 KB at once (`-j {s['jobs']}`, "
                  f"`max_batches = {s['max_batches']}`) did not finish: {s['error']}", ""]
    elif s:
        lines += [
            f"Small files: {s['files']:,} files of about 2 KB at once (`-j {s['jobs']}`, "
            f"`max_batches = {s['max_batches']}`): {s['wall_s']:.1f} s, "
            f"{s['files_per_s']:.1f} files/s, {s['snapshots']} snapshots, {s['rows']:,} rows, peak RSS {s['rss_mb']:.0f} MB.",
            "",
        ]
    big = getattr(b, "big_result", None)
    if big:
        lines += [
            f"Large file: {big['bytes'] / 1e9:.2f} GB NDJSON ({big['rows']:,} rows), "
            f"{big['threads']} threads: {big['wall_s']:.0f} s, {big['rows_per_s']:,.0f} rows/s, "
            f"peak RSS {big['rss_mb']:.0f} MB ({big['rss_mb_small']:.0f} MB on the "
            f"{m['ndjson']['bytes'] / 1e6:.0f} MB file).",
            "",
        ]

    sp = getattr(b, "spread_result", None)
    if sp:
        p, w = sp["orders"], sp["orders_whole"]
        lines += [
            f"Many partitions: {sp['rows']:,} orders ({sp['bytes'] / 1e6:.0f} MB NDJSON) spread in "
            f"random order over {sp['days']} days, {sp['threads']} threads: partitioned by day "
            f"{p['wall_s']:.2f} s, peak RSS {p['rss_mb']:.0f} MB, {p['files']:.0f} data files; "
            f"the same file unpartitioned {w['wall_s']:.2f} s, {w['rss_mb']:.0f} MB.",
            "",
        ]

    def ratio(fmt, threads):
        r = next((r for r in b.rows if r["tool"] == "sluice" and r["format"] == fmt
                  and r["threads"] == threads), None)
        return r and r["vs_duckdb"]

    lines += ["| target | | measured |", "| --- | --- | --- |"]
    for fmt in ("ndjson", "csv"):
        for t in b.args.threads:
            x = ratio(fmt, t)
            if x is not None:
                lines.append(check(f"{fmt.upper()} rows/s, {t} thread{'s' * (t > 1)}, vs DuckDB ≥ 1.0×",
                                   x >= 1.0, f"{x:.2f}×"))
    if big:
        ok = big["rss_mb"] <= 200 and big["vs_small"] <= 1.10
        lines.append(check("peak RSS on the large file ≤ 200 MB, within 10 % of the smaller file's",
                           ok, f"{big['rss_mb']:.0f} MB, {big['vs_small']:.2f}× of {big['rss_mb_small']:.0f} MB"))
    else:
        lines.append("| peak RSS on a 2 GB file | not run | `BENCH_BIG=1 make bench-ingest` |")
    if sp:
        lines.append(check(f"a file over {sp['days']} partitions: peak RSS ≤ 200 MB",
                           sp["orders"]["rss_mb"] <= 200, f"{sp['orders']['rss_mb']:.0f} MB"))
        lines.append(check("… and its time vs the same file unpartitioned ≤ 1.2×",
                           sp["vs_whole"] <= 1.2, f"{sp['vs_whole']:.2f}×"))
    if v:
        lines.append(check("row validation vs Python jsonschema ≥ 50×", v["vs_jsonschema"] >= 50,
                           f"{v['vs_jsonschema']:.0f}×"))
        lines.append(check("row validation (compiled plan, from text) vs fastjsonschema ≥ 15×",
                           v["plan_vs_fastjsonschema"] >= 15,
                           f"{v['plan_vs_fastjsonschema']:.1f}×"))
    if s and not s["error"]:
        lines.append(check(f"{s['files']:,} small files at once → ≤ 10 snapshots",
                           s["snapshots"] <= 10,
                           f"{s['snapshots']} snapshots, {s['files_per_s']:.1f} files/s"))
    elif s:
        lines.append(check(f"{s['files']:,} small files at once → ≤ 10 snapshots", False,
                           "did not finish"))
    mach = machine()
    lines += ["", f"Machine: {mach['cores']} cores ({mach['cpu']}), {mach['ram_gb']} GB RAM, "
                  f"{mach['os']}; Python {mach['python']}."]
    return "\n".join(lines) + "\n", mach


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sluice", required=True, help="the sluice binary (release)")
    p.add_argument("--data", default="target/bench-data", help="sluice-gen's output directory")
    p.add_argument("--work", default="target/bench-work", help="workspaces and Parquet outputs")
    p.add_argument("--criterion", required=True, help="criterion's output directory")
    p.add_argument("--out", default="target/bench-results", help="writes OUT.md and OUT.json")
    p.add_argument("--runs", type=int, default=3, help="runs per measurement; the median counts")
    p.add_argument("--threads", type=lambda s: [int(t) for t in s.split(",")], default=[1, 2])
    p.add_argument("--jobs", type=int, default=8, help="sluice ingest -j for the small files")
    p.add_argument("--small-timeout", type=float, default=1800, help="seconds, then killed")
    p.add_argument("--validate-rows", type=int, default=20_000)
    p.add_argument("--parts", default="ingest,spread,small,validate",
                   help="comma-separated: ingest, spread, small, validate")
    p.add_argument("--big", action="store_true", help="also the very large file (long)")
    args = p.parse_args()
    b = Bench(args)
    parts = args.parts.split(",")
    b.small = b.validate = None
    if "ingest" in parts:
        print("== ingest: the same files through sluice, DuckDB and pyarrow", flush=True)
        b.ingest()
    if "spread" in parts:
        print("== many partitions: one file over many days", flush=True)
        b.spread()
    if "small" in parts:
        print("== small files", flush=True)
        b.small_files()
    if "validate" in parts:
        print("== row validation", flush=True)
        b.validation()
    if args.big:
        print("== large file", flush=True)
        b.big()
    text, mach = report(b)
    out = Path(args.out)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(json.dumps({
        "machine": mach, "manifest": b.manifest, "runs": args.runs, "ingest": b.rows,
        "small_files": b.small, "validation": b.validate, "big": getattr(b, "big_result", None),
        "spread": getattr(b, "spread_result", None),
    }, indent=2) + "\n")
    print()
    print(text)
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
