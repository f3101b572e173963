"""Celery's tasks in the comparison bench (bench/compare.ts), on Redis at $BENCH_REDIS_URL
(broker and result backend). The worker runs this module with `celery -A tasks worker`."""
import hashlib
import os
import time

from celery import Celery

app = Celery('bench', broker=os.environ['BENCH_REDIS_URL'], backend=os.environ['BENCH_REDIS_URL'])
app.conf.broker_connection_retry_on_startup = True

BLOCK = bytes(1024)


@app.task(name='bench.noop')
def noop(i):
    return i


@app.task(name='bench.burn')
def burn(ms):
    """CPU-bound: SHA-256 over a 1 KiB block until `ms` milliseconds have passed
    (the same task as bench/fixtures/burn.ts)."""
    until = time.perf_counter() + ms / 1000
    rounds = 0
    while time.perf_counter() < until:
        hashlib.sha256(BLOCK).digest()
        rounds += 1
    return rounds


@app.task(name='bench.sleep')
def sleep(i, ms):
    """I/O-bound: waits `ms` milliseconds (a stand-in for an HTTP call), returns `i`."""
    time.sleep(ms / 1000)
    return i


@app.task(name='bench.xsum')
def xsum(values):
    """A chord's body: the sum of its members' results."""
    return sum(values)
