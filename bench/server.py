"""`python -m bench.server --port N [--worker] [--workers K]`: the app under uvicorn for the
benchmarks.

Settings come from PAYREQUEST_* variables (see `support.server_env`). The access log is off
(one log line per request would be measured too); everything else is `payrequest serve`,
including `--workers K`: K web processes sharing the port (PostgreSQL only).
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from payrequest.app import RUN_WORKER_ENV


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--worker", action="store_true", help="also run the job worker")
    parser.add_argument("--workers", type=int, default=1, help="web processes")
    args = parser.parse_args()
    os.environ[RUN_WORKER_ENV] = "1" if args.worker else "0"
    uvicorn.run(
        "payrequest.app:app_factory",
        factory=True,
        workers=args.workers,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=120,
    )


if __name__ == "__main__":
    main()
