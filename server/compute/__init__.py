"""The machinery the use cases compute on, apart from the use cases themselves.

    machinery.py       Compute: everything below that a Runtime owns, and closes on shutdown
    process_pool.py    CpuPool: a spawned process pool for seconds of CPU work (evaluation)
    report_process.py  ReportWorker: one process that runs slice-report parts in rank order
    ranked_thread.py   RankedThread: one thread that runs work in rank order (the in-process
                       fallback for report parts)
    frames.py          messages to and from the report worker, read whole under any event loop
    shared_arrays.py   arrays laid out in one memory-mapped file, shared with a worker process
    process_guard.py   worker processes exit when their parent dies
    lru.py             a bounded least-recently-used map

Nothing here imports services, jobs, storage or the GraphQL schema: the use cases hand in the
functions and arrays to run on.
"""
