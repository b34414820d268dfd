"""tensorflow-datasets, fetched so that an offline machine fails in seconds, not minutes.

``tfds.data_source(..., download=True)`` retries a lost connection through urllib3 for
minutes. We first check that the download host answers (a 3 s TCP connect), then run
the fetch in a daemon thread and give up after ``timeout`` seconds, each time with a
message that says what to do instead.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

DOWNLOAD_HOSTS = ("storage.googleapis.com",)


def online(host: str = DOWNLOAD_HOSTS[0], timeout: float = 3.0) -> bool:
    """True when ``host:443`` accepts a TCP connection within ``timeout`` seconds."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def import_tfds(what: str):
    """``tensorflow_datasets``, or a ``ModuleNotFoundError`` naming the extra that installs it."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ModuleNotFoundError(f"{what} needs tensorflow-datasets (pip install \"nnlect[tfds]\")",
                                  name="tensorflow_datasets") from None
    return tfds


def data_source(name: str, split: Any, *, data_dir: Any, download: bool, timeout: float,
                what: str, instead: str) -> Any:
    """``tfds.data_source(name, split=split, ...)`` within ``timeout`` seconds.

    Arguments:
        what: how the caller names this source in messages (``"--corpus tiny_shakespeare"``).
        instead: what to do when it cannot be had (``"use --corpus stdlib or --text FILE"``).

    Raises:
        ModuleNotFoundError: tensorflow-datasets is not installed.
        ConnectionError: ``download`` was asked for and the download host does not answer.
        FileNotFoundError: the data is not prepared in ``data_dir`` and ``download`` is off.
        TimeoutError: nothing came within ``timeout`` seconds.
    """
    tfds = import_tfds(what)
    if download and not online():
        raise ConnectionError(f"{what} with --download / download=True: no network ({DOWNLOAD_HOSTS[0]}:443 "
                              f"unreachable); {instead}")
    result: dict = {}

    def fetch():
        try:
            result["ds"] = tfds.data_source(name, split=split, data_dir=data_dir, download=download)
        except BaseException as e:  # reported in the calling thread
            result["error"] = e

    worker = threading.Thread(target=fetch, daemon=True)  # a daemon: we can walk away from a hung fetch
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"{what}: no {name} after {timeout:.0f} s; {instead}")
    if "error" in result:
        error = result["error"]
        first_line = (str(error).splitlines() or [""])[0]
        if download:
            raise ConnectionError(f"{what}: downloading {name} failed ({type(error).__name__}: {first_line}); "
                                  f"{instead}") from None
        raise FileNotFoundError(f"{what}: {name} is not prepared in {data_dir or 'the tfds data dir'} "
                                f"({type(error).__name__}: {first_line}); pass --download (download=True) "
                                f"on a machine with network, or {instead}") from None
    return result["ds"]
