"""The one Kubernetes client of the product (reconciler and certificates): a thin JSON layer over the
kubernetes package's ApiClient (auth, TLS, kubeconfig, in-cluster).

Plain dicts in and out, not the generated models: the policies read JSON, a 500-object relist stays
cheap, a read-modify-write keeps every field (the models drop those the client does not know), and base64
fields (Secret data, caBundle) stay exactly as the apiserver sent them. Watches are raw streaming GETs, so
resourceVersion, bookmarks and 410 Gone stay in our hands (kubernetes.watch.Watch hides the bookmark rv
and turns 410 into a generic error).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator, Sequence
from importlib import metadata
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

JSON = dict[str, Any]  # an object as the apiserver sends it
Query = Sequence[tuple[str, str]]
_VERSION = metadata.version("mcp-admission")
APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML: the body is sent as JSON
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"  # RFC 6902: a list of operations


class KubeError(Exception):
    """A request the apiserver refused (status >= 400) or that never got an answer (status 0)."""

    def __init__(self, status: int, message: str, body: JSON | None = None) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.body = body or {}


def api_client(
    kubeconfig: str | None,
    pool_size: int = 16,
    context: str | None = None,
    component: str = "mcp-admission",
) -> client.ApiClient:
    """The ApiClient for `kubeconfig`, else the pod's service account, else $KUBECONFIG/~/.kube/config;
    `context` (a kubeconfig's context, not its current one) rules out the service account.

    `pool_size` connections are kept open: workers and watches beyond it would each pay a TLS handshake.
    `component` names the part in its User-Agent, from which the apiserver takes the field manager of
    every write that names none (managedFields then say `mcp-admission-certs`, not the client library's
    default `OpenAPI-Generator`) and which its audit log records.
    """
    configuration = client.Configuration()
    try:
        if kubeconfig or context:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
        else:
            try:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            except ConfigException:
                config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise KubeError(0, f"no usable Kubernetes client configuration: {exc}") from None
    configuration.connection_pool_maxsize = pool_size
    api = client.ApiClient(configuration)
    api.user_agent = f"{component}/{_VERSION}"
    return api


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def _send(
        self,
        method: str,
        path: str,
        query: Query,
        body: Any,
        content_type: str,
        timeout: float | tuple[float, float],
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        serialized = self.api.param_serialize(
            method,
            path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            return self.api.call_api(*serialized, _request_timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeError(0, f"{method} {path}: {exc}") from None

    @staticmethod
    def _error(method: str, path: str, status: int, data: bytes) -> KubeError:
        try:
            body = json.loads(data)
        except ValueError:
            body = {}
        message = body.get("message") if isinstance(body, dict) else None
        return KubeError(
            status, f"{method} {path}: {message or data[:200]!r}", body if isinstance(body, dict) else {}
        )

    def request(
        self,
        method: str,
        path: str,
        query: Query = (),
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> JSON:
        response = self._send(method, path, query, body, content_type, timeout)
        try:
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeError(0, f"{method} {path}: {exc}") from None
        if response.status >= 400:
            raise self._error(method, path, response.status, data)
        decoded = json.loads(data) if data else {}
        return decoded if isinstance(decoded, dict) else {}

    def get(self, path: str, query: Query = (), timeout: float = 30) -> JSON | None:
        """GET `path`; None when it does not exist (404)."""
        try:
            return self.request("GET", path, query, timeout=timeout)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def watch(self, path: str, query: Query, timeout: float) -> WatchStream:
        """Open a watch; iterate the stream for events ({"type", "object"}); KubeError on failure."""
        response = self._send(
            "GET", path, (*query, ("watch", "true")), None, "application/json", (10, timeout)
        )
        raw: urllib3.HTTPResponse = response.response
        if response.status >= 400:
            error = self._error("GET", path, response.status, raw.data)
            raw.release_conn()
            raise error
        return WatchStream(raw, path)


class WatchStream:
    """One open watch. close() (from any thread) ends the iteration promptly.

    Closing the response from another thread does not wake a thread blocked reading it; shutting its
    socket down does (the read sees end-of-stream at once), as client-go's reflector ends a watch on its
    stop channel. That connection is then closed, never handed back to the pool half-read.
    """

    def __init__(self, raw: urllib3.HTTPResponse, path: str) -> None:
        self._raw = raw
        self._path = path
        self._closed = False
        self._released = False
        self._lock = threading.Lock()  # close() never shuts down a socket the pool has handed on

    def __iter__(self) -> Iterator[JSON]:
        buffer = b""
        ended = False
        try:
            for chunk in self._raw.stream(65536, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
            ended = not self._closed
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if not self._closed:
                raise KubeError(0, f"watch {self._path}: {exc}") from None
        finally:
            with self._lock:
                self._released = True
                if not ended:  # closed, failed or abandoned mid-stream: the connection is not reusable
                    self._raw.close()
                self._raw.release_conn()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._released:
                return
            connection = self._raw.connection
            sock = getattr(connection, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
