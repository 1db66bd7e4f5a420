"""List+watch one collection into a cache, calling back on every change: a small client-go informer.

Watches resume from the last resourceVersion seen (bookmarks keep it fresh on quiet collections); a
410 Gone, as an HTTP status or a watch ERROR event, means that version is compacted away: relist.
Other failures (the apiserver going away) back off exponentially with jitter, then resume.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from mcp_admission.backoff import backoff
from mcp_admission.kube import Kube, KubeError, WatchStream

log = logging.getLogger(__name__)
Obj = dict[str, Any]
LIST_PAGE = 500
WATCH_SECONDS = 300  # a watch ends after about this long (jittered) and resumes where it was


class Gone(Exception):
    """The watched resourceVersion is too old: relist."""


def object_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def in_scope(informers: dict[str, Informer], namespace: str) -> Informer:
    """This namespace's informer, else the all-namespaces one (keyed "")."""
    return informers.get(namespace) or informers[""]


def _newer(obj: Obj, than: Obj) -> bool:
    # resourceVersions are opaque by contract; etcd's are integers, and when they are not we keep the cache.
    new, old = (str((o.get("metadata") or {}).get("resourceVersion", "")) for o in (obj, than))
    return new.isdigit() and old.isdigit() and int(new) > int(old)


class Informer:
    def __init__(
        self,
        kube: Kube,
        path: str,
        on_change: Callable[[Obj], None],
        on_delete: Callable[[Obj], None],
        on_error: Callable[[str], None],
        label_selector: str = "",
    ) -> None:
        self.path = path
        self.synced = threading.Event()  # set after the first full list
        self._kube = kube
        self._on_change, self._on_delete, self._on_error = on_change, on_delete, on_error
        self._selector = (("labelSelector", label_selector),) if label_selector else ()
        self._store: dict[str, Obj] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stream: WatchStream | None = None  # the open watch, for stop() to close
        self._watching = threading.Lock()  # orders stop() and opening a watch
        self.relists = 0

    def get(self, key: str) -> Obj | None:
        with self._lock:
            return self._store.get(key)

    def remember(self, obj: Obj) -> None:
        """Our own write's result, before its watch event arrives: a reconcile in between must not see the
        old object and write again. Never replaces a newer cached version."""
        key = object_key(obj)
        with self._lock:
            cached = self._store.get(key)
            if cached is None or _newer(obj, cached):
                self._store[key] = obj

    def forget(self, obj: Obj) -> None:
        """Our own delete, before its watch event arrives: a reconcile in between must not act on it again.
        A same-named object with another uid (created since) stays."""
        key, uid = object_key(obj), (obj.get("metadata") or {}).get("uid")
        with self._lock:
            cached = self._store.get(key)
            if cached is not None and (cached.get("metadata") or {}).get("uid") == uid:
                del self._store[key]

    def objects(self) -> list[Obj]:
        with self._lock:
            return list(self._store.values())

    def stop(self) -> None:
        """End run() promptly: its open watch is closed, and one it opens from now on is closed at once."""
        with self._watching:
            self._stop.set()
            stream = self._stream
        if stream is not None:
            stream.close()

    def _open(self, query: list[tuple[str, str]], timeout: float) -> WatchStream:
        # stop() either sees this stream or is seen here: a watch opened as it ran is never left open.
        stream = self._kube.watch(self.path, query, timeout=timeout)
        with self._watching:
            self._stream = stream
            stopped = self._stop.is_set()
        if stopped:
            stream.close()
        return stream

    def run(self) -> None:
        failures = 0
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._relist()
                version = self._watch(version)
                failures = 0
            except Gone:
                log.info("watch %s: resourceVersion %s is gone; relisting", self.path, version)
                version = None
            except KubeError as exc:
                if self._stop.is_set():
                    break
                self._on_error(f"{self.path}: {exc}")
                self._stop.wait(backoff(failures, 0.2, 30))
                failures += 1

    def _relist(self) -> str:
        items: list[Obj] = []
        token = ""
        while True:
            query = [*self._selector, ("limit", str(LIST_PAGE))]
            if token:
                query.append(("continue", token))
            page = self._kube.request("GET", self.path, query)
            items.extend(item for item in page.get("items") or () if isinstance(item, dict))
            meta = page.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                break
        fresh = {object_key(item): item for item in items}
        with self._lock:
            old, self._store = self._store, fresh
        self.relists += 1
        for key, obj in old.items():
            if key not in fresh:
                self._on_delete(obj)
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None or before["metadata"].get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                self._on_change(obj)
        self.synced.set()
        return str(meta.get("resourceVersion") or "")

    def _watch(self, version: str) -> str:
        # Jittered so the watches of many replicas do not all reconnect at once.
        seconds = int(WATCH_SECONDS * random.uniform(0.8, 1.2))
        query = [
            *self._selector,
            ("resourceVersion", version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(seconds)),
        ]
        try:
            stream = self._open(query, timeout=seconds + 30)
        except KubeError as exc:
            if exc.status == 410:
                raise Gone() from None
            raise
        try:
            for event in stream:
                kind, obj = event.get("type"), event.get("object")
                if not isinstance(obj, dict):
                    continue
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone()
                    raise KubeError(
                        int(obj.get("code") or 0), f"watch {self.path}: {obj.get('message')}", obj
                    )
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind == "BOOKMARK":
                    continue
                key = object_key(obj)
                if kind == "DELETED":
                    with self._lock:
                        self._store.pop(key, None)
                    self._on_delete(obj)
                else:
                    with self._lock:
                        self._store[key] = obj
                    self._on_change(obj)
        finally:
            with self._watching:
                self._stream = None
        return version
