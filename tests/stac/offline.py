"""No network for the STAC tools under test: schema URLs are answered from local copies
(tests/stac/schemas, pystac's bundled core and GeoJSON schemas) and every other connection
beyond loopback is refused. Each refusal is also remembered, and a
process that was refused anything exits with status 3 and names the URLs, so that a tool that
swallows a failed fetch cannot pass silently.

Import this module and call `install()` before importing the tools: stac-api-validator and
pystac-client reach the network through requests, stac-validator through urllib, pystac through
urllib3 (or urllib without it); each is served here at its transport layer, below the tools' own
caches.
"""

import atexit
import email.message
import importlib.resources
import io
import os
import socket
import sys
import urllib.error
import urllib.request
import urllib.response
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parent / "schemas"
LOOPBACK = ("127.", "::1", "localhost")

refused: list[str] = []


def _pystac_schema(relative: str) -> Path:
    return Path(
        str(importlib.resources.files("pystac.validation.jsonschemas").joinpath(relative))
    )


def local_copy(url: str) -> Path | None:
    """The local file that stands for a schema URL, or None."""
    bare = url.split("#", 1)[0]
    prefix = "https://stac-extensions.github.io/"
    if bare.startswith(prefix):
        # https://stac-extensions.github.io/sar/v1.0.0/schema.json
        return SCHEMAS / bare[len(prefix) :]
    prefix = "https://schemas.stacspec.org/"
    if bare.startswith(prefix):
        # https://schemas.stacspec.org/v1.0.0/item-spec/json-schema/basics.json
        version, _spec, _dir, name = bare[len(prefix) :].split("/")
        vendored = SCHEMAS / "stac-spec" / version / name
        if vendored.exists():
            return vendored
        return _pystac_schema(f"stac-spec/{version}/{name}")
    prefix = "https://geojson.org/schema/"
    if bare.startswith(prefix):
        return _pystac_schema(f"geojson/{bare[len(prefix):]}")
    return None


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    scheme = urlsplit(url).scheme
    host = urlsplit(url).hostname or ""
    return scheme == "file" or host.startswith(LOOPBACK)


def _refuse(url: str) -> OSError:
    refused.append(url)
    return ConnectionRefusedError(f"offline test: no network for {url}")


def _local_bytes(url: str) -> bytes | None:
    path = local_copy(url)
    if path is None:
        return None
    if not path.exists():
        raise _refuse(f"{url} (no local copy at {path})")
    return path.read_bytes()


def _serve_requests() -> None:
    import requests
    from requests.adapters import HTTPAdapter

    real_send = HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        if _is_loopback(request.url):
            return real_send(self, request, *args, **kwargs)
        body = _local_bytes(request.url)
        if body is None:
            raise requests.ConnectionError(_refuse(request.url), request=request)
        response = requests.Response()
        response.status_code = 200
        response._content = body
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    HTTPAdapter.send = send


def _serve_urllib() -> None:
    real_open = urllib.request.OpenerDirector.open

    def open_(self, fullurl, data=None, timeout=socket._GLOBAL_DEFAULT_TIMEOUT):
        url = fullurl if isinstance(fullurl, str) else fullurl.full_url
        if _is_loopback(url):
            return real_open(self, fullurl, data, timeout)
        body = _local_bytes(url)
        if body is None:
            raise urllib.error.URLError(_refuse(url))
        headers = email.message.Message()
        headers["Content-Type"] = "application/json"
        return urllib.response.addinfourl(io.BytesIO(body), headers, url, 200)

    urllib.request.OpenerDirector.open = open_


def _serve_urllib3() -> None:
    """pystac reads with urllib3's PoolManager when urllib3 is installed."""
    import urllib3
    from urllib3.poolmanager import PoolManager

    real_urlopen = PoolManager.urlopen

    def urlopen(self, method, url, redirect=True, **kw):
        if _is_loopback(url):
            return real_urlopen(self, method, url, redirect, **kw)
        body = _local_bytes(url)
        if body is None:
            raise urllib3.exceptions.NewConnectionError(None, str(_refuse(url)))
        return urllib3.HTTPResponse(
            body=io.BytesIO(body),
            headers={"Content-Type": "application/json"},
            status=200,
            preload_content=kw.get("preload_content", True),
            request_url=url,
        )

    PoolManager.urlopen = urlopen


def _guard_sockets() -> None:
    """Anything that reaches a socket by another road is refused too."""
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family == socket.AF_UNIX or str(host).startswith(LOOPBACK):
            return real_connect(self, address)
        raise _refuse(f"socket {address}")

    socket.socket.connect = connect


def _report() -> None:
    if refused:
        sys.stdout.flush()
        print("offline test: refused network access to:", file=sys.stderr)
        for url in sorted(set(refused)):
            print(f"  {url}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(3)


def install() -> None:
    _serve_requests()
    _serve_urllib()
    _serve_urllib3()
    _guard_sockets()
    atexit.register(_report)
