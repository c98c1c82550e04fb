"""Entry point: ``python -m commandbridge_emulator --host 127.0.0.1 --port 0``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="commandbridge_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 binds a free port")
    parser.add_argument("--transition-seconds", type=float, default=0.0)
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    from .app import EmulatorApp

    class Handler(MotoRequestHandler):
        def log_request(self, code="-", size="-"):  # noqa: ANN001
            if args.verbose:
                super().log_request(code, size)

    app = EmulatorApp(transition_seconds=args.transition_seconds, verbose=args.verbose)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)
    server.daemon_threads = True
    port = server.server_port
    app.base_url = f"http://{args.host}:{port}"
    print(f"listening on http://{args.host}:{port}", flush=True)

    def stop(signum, frame):  # noqa: ANN001
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
