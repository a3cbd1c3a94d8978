"""The tools sluice is measured against, each run as its own process by run.py.

    peers.py duckdb  FORMAT THREADS INPUT OUTPUT   NDJSON/CSV to zstd Parquet with DuckDB
    peers.py pyarrow FORMAT THREADS INPUT OUTPUT   the same with pyarrow (whole table in memory)
    peers.py validate SCHEMA NDJSON ROWS           Python jsonschema and fastjsonschema on the
                                                   first ROWS lines, rows/s as JSON on stdout

DuckDB skips rows it cannot read or cast (ignore_errors); it checks no contract. pyarrow
cannot skip a bad line, so run.py gives it the generator's copy without broken rows.
"""

import json
import sys
import time


def duckdb_convert(fmt, threads, src, dst):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    if fmt == "ndjson":
        source = f"read_json('{src}', format = 'newline_delimited', ignore_errors = true)"
    else:
        source = f"read_csv('{src}', header = true, ignore_errors = true)"
    con.execute(f"COPY (SELECT * FROM {source}) TO '{dst}' (FORMAT parquet, COMPRESSION zstd)")


def pyarrow_convert(fmt, threads, src, dst):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pa.set_cpu_count(int(threads))
    pa.set_io_thread_count(int(threads))
    use_threads = int(threads) > 1
    if fmt == "ndjson":
        from pyarrow import json as pj

        table = pj.read_json(src, read_options=pj.ReadOptions(use_threads=use_threads))
    else:
        from pyarrow import csv as pc

        table = pc.read_csv(src, read_options=pc.ReadOptions(use_threads=use_threads))
    pq.write_table(table, dst, compression="zstd")


def validate(schema_path, ndjson, limit):
    import fastjsonschema
    import jsonschema

    with open(schema_path) as f:
        schema = json.load(f)
    rows = []
    with open(ndjson) as f:
        for n, line in enumerate(f):
            if n >= limit:
                break
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass  # sluice's reader rejects these before validation, too

    cls = jsonschema.validators.validator_for(schema)
    checker = cls(schema, format_checker=cls.FORMAT_CHECKER)
    started = time.perf_counter()
    invalid = 0
    for row in rows:
        # Up to ten violations per row, as sluice's contract reports them.
        errors = [e.message for _, e in zip(range(10), checker.iter_errors(row))]
        invalid += bool(errors)
    js = time.perf_counter() - started

    fast = fastjsonschema.compile(schema)
    started = time.perf_counter()
    fast_invalid = 0
    for row in rows:
        try:
            fast(row)
        except fastjsonschema.JsonSchemaException:
            fast_invalid += 1
    fjs = time.perf_counter() - started
    print(json.dumps({
        "rows": len(rows),
        "jsonschema": {"version": jsonschema_version(), "rows_per_s": len(rows) / js,
                       "invalid": invalid},
        "fastjsonschema": {"version": fastjsonschema.VERSION, "rows_per_s": len(rows) / fjs,
                           "invalid": fast_invalid},
    }))


def jsonschema_version():
    from importlib.metadata import version

    return version("jsonschema")


def main(argv):
    match argv:
        case ["duckdb", fmt, threads, src, dst]:
            duckdb_convert(fmt, threads, src, dst)
        case ["pyarrow", fmt, threads, src, dst]:
            pyarrow_convert(fmt, threads, src, dst)
        case ["validate", schema, ndjson, limit]:
            validate(schema, ndjson, int(limit))
        case _:
            sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
