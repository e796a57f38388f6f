"""gunicorn's settings for reviewapp: `gunicorn -c python:reviewapp.gunicorn_conf reviewapp.wsgi`.

The Docker image, docker-compose.yml and bench/screening_bench.py all serve the app with these, so
the benchmark measures what users run. Each can be overridden on the command line or through
GUNICORN_CMD_ARGS; WEB_CONCURRENCY sets the number of worker processes.
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Two per core (the benchmark's 2-core machine: 4), at most 8 unless WEB_CONCURRENCY says more:
# in a container os.cpu_count() may count the whole host's cores.
workers = int(os.environ.get("WEB_CONCURRENCY", min(8, 2 * len(os.sched_getaffinity(0)))))
# Threads share a worker's interpreter lock: two at most, so a thread waiting on PostgreSQL lets
# the other run, without queueing a request behind several others' Python.
worker_class = "gthread"
threads = 2
timeout = 120
# Long enough for a proxy's pooled connections and a browser's next decision.
keepalive = 5

# Import the app (the URLconf and every view, with numpy, scipy and matplotlib behind them: about
# two seconds) once, in the master, before forking: a worker then answers its first request as
# fast as its thousandth, and a restarted worker is ready at once.
preload_app = True


def when_ready(server):
    # Objects made while importing live as long as the process. Frozen, the garbage collector no
    # longer walks their 200,000 on each full collection (a pause of tens of milliseconds in a
    # request otherwise), and a worker's pages stay shared with the master's.
    gc.freeze()
