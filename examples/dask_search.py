"""Normalize and search a chunked array of embeddings on a Dask cluster, then check against one process.

    python examples/dask_search.py                      # a LocalCluster of 2 worker processes
    python examples/dask_search.py --scheduler tcp://scheduler-host:8786   # an existing cluster

The embeddings are generated on the workers in row chunks (in a real
pipeline they would be read there, e.g. with ``da.from_zarr`` or
``da.from_npy_stack``); only the queries and the top-k results travel through
this process. The same code runs unchanged on a multi-machine cluster: every
worker needs ``vector-ops-ffi[dask]`` installed (or ``VECTOR_OPS_LIBRARY``
and ``PYTHONPATH`` pointing at a build).

At the end the same work is done in this process with the in-memory
functions, the results are compared (they must be identical) and both wall
times are printed. On a single machine the in-memory call wins: Dask pays
for scheduling and for moving data between processes, and the library
already uses every core. Dask is for data that does not fit one machine.
"""

from __future__ import annotations

import argparse
import os
import time

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster, wait

import vector_ops_ffi as vo
from vector_ops_ffi import dask as vd


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="base vectors (default: 200000)")
    parser.add_argument("--dim", type=int, default=256, help="vector length (default: 256)")
    parser.add_argument("--chunk-rows", type=int, default=25_000, help="rows per Dask chunk (default: 25000)")
    parser.add_argument("--queries", type=int, default=500, help="query vectors (default: 500)")
    parser.add_argument("-k", type=int, default=10, help="results per query (default: 10)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default: 2)")
    parser.add_argument("--scheduler", help="address of an existing Dask scheduler instead of a LocalCluster")
    return parser.parse_args()


def timed(label: str, function, timings: dict[str, float]):
    start = time.perf_counter()
    result = function()
    timings[label] = time.perf_counter() - start
    return result


def main() -> None:
    args = parse_args()
    if args.scheduler:
        client = Client(args.scheduler)
        # Library threads per worker: the worker's CPUs divided by its Dask
        # threads (pass num_threads= when several workers share a machine).
        plugin = vd.VectorOpsPlugin()
    else:
        cluster = LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = Client(cluster)
        # The workers share this machine: split its CPUs between them.
        plugin = vd.VectorOpsPlugin(num_threads=max(1, len(os.sched_getaffinity(0)) // args.workers))
    with client:
        client.register_plugin(plugin)
        print(f"Dask cluster: {client}")

        rng = da.random.default_rng(42)
        base = rng.standard_normal(
            (args.rows, args.dim), chunks=(args.chunk_rows, args.dim), dtype=np.float32
        )
        base = base.persist()  # generated on the workers, kept there
        wait(base)
        queries = np.random.default_rng(7).standard_normal((args.queries, args.dim), dtype=np.float32)

        dask_times: dict[str, float] = {}
        start = time.perf_counter()
        unit = vd.batch_normalize(base).persist()
        wait(unit)  # persist() returns at once; the blocks are ready after wait()
        dask_times["normalize"] = time.perf_counter() - start
        indices, scores = timed(
            "top_k", lambda: dask.compute(*vd.top_k(queries, unit, args.k, "cosine")), dask_times
        )

        # The same in this process, on the gathered arrays.
        local = base.compute()
        unit_gathered = unit.compute()

    local_times: dict[str, float] = {}
    local_unit = timed("normalize", lambda: vo.batch_normalize(local), local_times)
    expected = timed("top_k", lambda: vo.top_k(queries, local_unit, args.k, "cosine"), local_times)
    identical = (
        np.array_equal(unit_gathered, local_unit, equal_nan=True)
        and np.array_equal(indices, expected[0])
        and np.array_equal(scores, expected[1])
    )

    print(
        f"\n{args.rows} x {args.dim} float32 ({local.nbytes / 1e6:.0f} MB), "
        f"chunks of {args.chunk_rows} rows; top-{args.k} of {args.queries} queries (cosine)"
    )
    print(f"{'step':<10} {'dask':>9} {'in memory':>10}")
    for step in ("normalize", "top_k"):
        print(f"{step:<10} {dask_times[step]:>8.3f}s {local_times[step]:>9.3f}s")
    print(f"results identical: {'yes' if identical else 'NO'}")
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
