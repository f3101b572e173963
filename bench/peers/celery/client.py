"""Celery's client in the comparison bench: runs the plan (argv[1], JSON; see bench/peers/plan.ts)
and prints its figures as JSON on its last line. Results are awaited as Celery users do:
`AsyncResult.get()`, and `ResultSet.join_native()` for many (Redis pub/sub)."""
import json
import sys
import time

from celery import chord, group
from celery.result import ResultSet

from tasks import app, burn, noop, sleep, xsum

def percentile(ordered, p):
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def end_to_end(plan, task, count, arg, *extra):
    began = time.perf_counter()
    results = [task.delay(arg(i), *extra) for i in range(count)]
    values = ResultSet(results).join_native(timeout=plan['timeoutS'])
    rate = count / (time.perf_counter() - began)
    # Every result is checked: a no-op or sleep returns its argument, a burn its rounds (0 or more).
    for i, value in enumerate(values):
        right = isinstance(value, int) and value >= 0 if task is burn else value == arg(i)
        if not right:
            raise RuntimeError(f'{task.name}: wrong result for task {i}: {value!r}')
    return rate


def main():
    plan = json.loads(sys.argv[1])
    measures = {}
    for workload in plan['workloads']:
        if workload == 'throughput':
            # Twice, as the Node clients do (drive.ts): a first pass after start, then the steady state.
            measures['throughputCold'] = end_to_end(plan, noop, plan['tasks'], lambda i: i)
            measures['throughput'] = end_to_end(plan, noop, plan['tasks'], lambda i: i)
        elif workload == 'roundTrip':
            times = []
            for i in range(plan['roundTrips']):
                began = time.perf_counter()
                noop.delay(i).get(timeout=plan['timeoutS'])
                times.append((time.perf_counter() - began) * 1000)
            times.sort()
            measures['p50'] = percentile(times, 50)
            measures['p99'] = percentile(times, 99)
        elif workload == 'enqueue':
            began = time.perf_counter()
            for i in range(plan['tasks']):
                noop.apply_async((i,), queue='bench-enqueue')
            measures['enqueue'] = plan['tasks'] / (time.perf_counter() - began)
        elif workload == 'io':
            measures['io'] = end_to_end(plan, sleep, plan['ioTasks'], lambda i: i, plan['ioMs'])
        elif workload == 'cpu':
            measures['cpu'] = end_to_end(plan, burn, plan['cpuTasks'], lambda i: plan['cpuMs'])
        elif workload == 'chord':
            size = plan['chordSize']
            began = time.perf_counter()
            total = chord(group(noop.s(i) for i in range(size)), xsum.s()).apply_async().get(timeout=plan['timeoutS'])
            if total != size * (size - 1) // 2:
                raise RuntimeError(f'chord: wrong result {total!r}')
            measures['chord'] = (time.perf_counter() - began) * 1000
        else:
            raise ValueError(f'unknown workload {workload!r}')
    print(json.dumps(measures))


if __name__ == '__main__':
    main()
