"""Is a download host reachable? Asked once, in about a second, before a source tries to download.

Offline, tensorflow-datasets retries its downloads for minutes (with pages of warnings) and
scikit-learn's fetchers wait on the network; a short TCP connect to the host first lets a source
fail at once with one message naming the offline sources instead.
"""
from __future__ import annotations

import socket
import threading
from urllib.parse import urlparse

#: Seconds a connect (name lookup included) may take before the host counts as unreachable.
TIMEOUT_S = 3.0


def reachable(url_or_host: str, *, port: int = 443, timeout: float = TIMEOUT_S) -> bool:
    """True when a TCP connection to the host (of a URL, or a bare host name) opens within
    ``timeout`` seconds. The name lookup runs in a daemon thread, so a resolver that hangs
    cannot hold the caller longer than ``timeout`` either."""
    parsed = urlparse(url_or_host if "://" in url_or_host else f"//{url_or_host}")
    host, port = parsed.hostname or url_or_host, parsed.port or port
    ok = threading.Event()

    def connect():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.set()
        except OSError:
            pass

    t = threading.Thread(target=connect, daemon=True, name=f"aejax-reachable-{host}")
    t.start()
    t.join(timeout)
    return ok.is_set()
