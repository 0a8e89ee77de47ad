"""`python -m bench.server --port N [--worker]`: the app under uvicorn for the benchmarks.

Settings come from PAYREQUEST_* variables (see `support.server_env`). The access log is off
(one log line per request would be measured too); everything else is `payrequest serve`.
"""

from __future__ import annotations

import argparse

import uvicorn

from payrequest.app import create_app
from payrequest.config import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--worker", action="store_true", help="also run the job worker")
    args = parser.parse_args()
    app = create_app(load_settings(), run_worker=args.worker)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=120,
    )


if __name__ == "__main__":
    main()
