"""Run the service: `python -m web` (host and port: JOURNEY_WEB_HOST, JOURNEY_WEB_PORT).

Bad settings or store files stop it at once with exit code 2 and one line per problem.
SIGTERM stops taking requests and lets those in flight finish (uvicorn's graceful
shutdown).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

import uvicorn
from pydantic import ValidationError

from customer_data import ProtectionError
from runtime.connection import exit_process
from runtime.observability import configure_logging
from web.app import create_app
from web.settings import ServiceSettings
from web.stores import InvalidStores

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulServer(uvicorn.Server):
    """uvicorn's server, exiting 0 after a graceful shutdown on SIGTERM or SIGINT, as the
    worker does, rather than raising the signal again once it has stopped."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main() -> int:
    try:
        settings = ServiceSettings()  # from the environment
        app = create_app(settings)
    except ValidationError as err:
        for item in err.errors():
            message = item["msg"].removeprefix("Value error, ")
            if item["loc"]:  # a setting of its own; else one about several
                message = f"JOURNEY_{'_'.join(map(str, item['loc'])).upper()}: {message}"
            print(message, file=sys.stderr)
        return 2
    except InvalidStores as err:
        for line in err.problems:
            print(line, file=sys.stderr)
        return 2
    except ProtectionError as err:
        print(err, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    server = GracefulServer(
        uvicorn.Config(
            app,
            host=settings.web_host,
            port=settings.web_port,
            log_config=None,  # the project's logging, text or JSON
            access_log=False,  # web/metrics.py logs each request by route, never a token
        )
    )
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    exit_process(main())
