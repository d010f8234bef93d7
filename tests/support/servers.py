"""Real HTTP servers on loopback for the remote tests: files with Range support, and a
Hugging Face Hub endpoint that answers the routes ``huggingface_hub`` calls.

Both count what they send (body bytes and requests per path), so tests can assert the
transfer a scan cost as the server saw it, and both can misbehave on purpose, per path:
ignore ``Range``, fail with 503 a few times, answer a fixed status, or kill the process
that asked (a Dask worker) a given number of times.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass
class Rule:
    """How the server treats one path."""

    no_range: bool = False  # answer 200 with the whole file, as servers without Range do
    fail: int = 0  # answer 503 this many times first
    status: int = 0  # always answer this status
    kill: int = 0  # SIGKILL the requesting process this many times (must be our child)
    cut: int = 0  # this many times, send half the body and hang up
    stall: int = 0  # this many times, wait 2 s before answering (past a client's time-out)
    token: str | None = None  # require "Authorization: Bearer <token>" or "?sig=<token>"
    hold: threading.Event | None = None  # answer only once this is set (at most 60 s)


@dataclass
class Served:
    files: dict[str, Path] = field(default_factory=dict)  # URL path -> file
    rules: dict[str, Rule] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)  # body bytes per URL path
    requests: Counter[str] = field(default_factory=Counter)
    auth_seen: dict[str, str] = field(default_factory=dict)  # URL path -> Authorization
    killed: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (a refused download, a killed worker)


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (keep-alive, like real servers)."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency  # seconds added before every answer (a far-away store)
        self.served = Served()
        self.hub = FakeHub(self)
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = _Quiet(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, url_path: str, file: Path, **rule: object) -> str:
        """Serve ``file`` at ``url_path``; the URL to fetch it."""
        url_path = "/" + url_path.lstrip("/")
        self.served.files[url_path] = Path(file)
        if rule:
            self.served.rules[url_path] = Rule(**rule)  # type: ignore[arg-type]
        return self.base + quote(url_path)

    def sent(self, url_path: str) -> int:
        return self.served.sent["/" + url_path.lstrip("/")]

    def reset_counts(self) -> None:
        with self.served.lock:
            self.served.sent.clear()
            self.served.requests.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: LoopbackServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm
        # and delayed ACKs add 40 ms to every response (real servers set it too).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        if not self.server_state.hub.post(self, body):
            self.reply(404, b"not found")

    def _dispatch(self, head: bool) -> None:
        state = self.server_state
        if state.latency:
            time.sleep(state.latency)
        if state.hub.get(self, head):
            return
        path = unquote(urlsplit(self.path).path)
        if path not in state.served.files:
            self.reply(404, b"not found")
            return
        self.send_file(path, state.served.files[path], head)

    # ------------------------------------------------------------------ replies
    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_file(self, path: str, file: Path, head: bool) -> None:
        served = self.server_state.served
        rule = served.rules.get(path, Rule())
        with served.lock:
            served.requests[path] += 1
            served.auth_seen[path] = self.headers.get("Authorization", "")
            failing = rule.fail > 0
            if failing:
                rule.fail -= 1
            killing = rule.kill > 0
            if killing:
                rule.kill -= 1
            stalling = rule.stall > 0
            if stalling:
                rule.stall -= 1
        if killing:
            self._kill_requester()
            return
        if failing:
            self.reply(503, b"try again")
            return
        if stalling:
            time.sleep(2)
        if rule.status:
            self.reply(rule.status, b"refused")
            return
        if rule.token and not self._authorized(rule.token):
            self.reply(401, b"unauthorized")
            return
        if rule.hold is not None:
            rule.hold.wait(60)
        self._send_bytes(path, file, rule, head)

    def _authorized(self, token: str) -> bool:
        signed = parse_qs(urlsplit(self.path).query).get("sig") == [token]
        return signed or self.headers.get("Authorization") == f"Bearer {token}"

    def _send_bytes(self, path: str, file: Path, rule: Rule, head: bool) -> None:
        size = file.stat().st_size
        wanted = _RANGE.fullmatch(self.headers.get("Range", "").strip())
        headers = {"Accept-Ranges": "bytes"} if not rule.no_range else {}
        start, end, status = 0, size, 200
        if wanted is not None and not rule.no_range:
            first, last = wanted.groups()
            if first == "":  # bytes=-N: the last N bytes
                start = max(0, size - int(last))
            else:
                start, end = int(first), min(size, int(last) + 1 if last else size)
            if start >= size:
                self.reply(416, b"", {"Content-Range": f"bytes */{size}"})
                return
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        with file.open("rb") as f:
            f.seek(start)
            body = f.read(end - start) if not head else b""
        with self.server_state.served.lock:
            cutting = rule.cut > 0 and not head
            if cutting:
                rule.cut -= 1
            if not head:
                self.server_state.served.sent[path] += len(body) // 2 if cutting else len(body)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        if cutting:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif not head:
            self.wfile.write(body)

    def _kill_requester(self) -> None:
        """SIGKILL the process on the other end of this connection (a Dask worker)."""
        import psutil

        port = self.client_address[1]
        me = os.getpid()
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.pid and conn.pid != me:
                process = psutil.Process(conn.pid)
                if me in (p.pid for p in process.parents()):  # only ever our own children
                    self.server_state.served.killed.append(conn.pid)
                    os.kill(conn.pid, signal.SIGKILL)
        self.close_connection = True


# ---------------------------------------------------------------------------- hub
@functools.lru_cache(maxsize=4096)
def _digests(file: Path) -> tuple[str, str, int]:
    """(git-style sha1, sha256, size) of a file's bytes, computed once per file."""
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()
    with file.open("rb") as f:
        while chunk := f.read(1 << 24):
            sha1.update(chunk)
            sha256.update(chunk)
    return sha1.hexdigest(), sha256.hexdigest(), file.stat().st_size


@dataclass
class Repo:
    sha: str
    files: dict[str, Path]
    branches: dict[str, str]
    token: str | None = None  # private: only this bearer token may read it
    gated: bool = False


_API = re.compile(
    r"/api/(models|datasets|spaces)/([^/]+/[^/]+)"
    r"(?:/revision/([^/]+)|/tree/([^/]+)(/.*)?|/paths-info/([^/]+))?"
)
_RESOLVE = re.compile(r"/(?:(datasets|spaces)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)")
_CDN = re.compile(r"/cdn/([0-9a-f]{64})")
TREE_PAGE = 50  # small, so that listings exercise huggingface_hub's pagination


class FakeHub:
    """The Hub's API as huggingface_hub calls it: repo info (revision -> commit), tree
    listing (paginated with Link headers), paths-info, and resolve URLs that redirect
    to a CDN host (``localhost`` instead of ``127.0.0.1``: another host, as on the Hub)."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.repos: dict[tuple[str, str], Repo] = {}
        self.blobs: dict[str, Path] = {}

    @property
    def endpoint(self) -> str:
        return self.server.base

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, Path],
        kind: str = "models",
        token: str | None = None,
        gated: bool = False,
    ) -> str:
        digest = hashlib.sha1(repo_id.encode())
        for name in sorted(files):
            digest.update(name.encode() + _digests(files[name])[1].encode())
        sha = digest.hexdigest()
        self.repos[(kind, repo_id)] = Repo(sha, dict(files), {"main": sha}, token, gated)
        for file in files.values():
            self.blobs[_digests(file)[1]] = file
        return sha

    def sent(self, file: Path) -> int:
        """Body bytes the CDN sent of ``file``."""
        return self.server.sent(f"/cdn/{_digests(file)[1]}")

    # ------------------------------------------------------------------ routes
    def get(self, h: _Handler, head: bool) -> bool:
        split = urlsplit(h.path)
        path = split.path
        if match := _CDN.fullmatch(path):
            file = self.blobs.get(match.group(1))
            if file is None:
                h.reply(404, b"no such blob")
            else:
                h.send_file(path, file, head)
            return True
        if match := _API.fullmatch(path):
            kind, repo_id, rev, tree_rev, tree_path, _ = match.groups()
            repo = self._access(h, kind, repo_id)
            if repo is None:
                return True
            query = parse_qs(split.query)
            if tree_rev is not None:
                self._tree(h, kind, repo_id, repo, tree_rev, tree_path, query)
            else:
                self._info(h, repo_id, repo, rev or "main")
            return True
        if match := _RESOLVE.fullmatch(path):
            kind, repo_id, rev, file_path = match.groups()
            self._resolve(h, kind or "models", repo_id, unquote(rev), unquote(file_path))
            return True
        return False

    def post(self, h: _Handler, body: str) -> bool:
        match = _API.fullmatch(urlsplit(h.path).path)
        if match is None or match.group(6) is None:
            return False
        kind, repo_id = match.group(1), match.group(2)
        repo = self._access(h, kind, repo_id)
        if repo is None:
            return True
        commit = self._commit(h, repo, unquote(match.group(6)))
        if commit is None:
            return True
        wanted = parse_qs(body).get("paths", [])
        entries = [e for e in self._entries(repo) if e["path"] in wanted]
        h.reply(200, json.dumps(entries).encode(), {"Content-Type": "application/json"})
        return True

    def _access(self, h: _Handler, kind: str, repo_id: str) -> Repo | None:
        repo = self.repos.get((kind, repo_id))
        auth = h.headers.get("Authorization", "")
        if repo is None or (repo.token and auth != f"Bearer {repo.token}"):
            # The Hub answers 401 without a token for private and missing repositories alike.
            status = 404 if auth else 401
            self._error(h, status, "RepoNotFound", "Repository not found")
            return None
        if repo.gated:
            self._error(h, 403, "GatedRepo", "Access to this repository is restricted")
            return None
        return repo

    def _commit(self, h: _Handler, repo: Repo, rev: str) -> str | None:
        commit = repo.branches.get(rev) or (rev if rev == repo.sha else None)
        if commit is None:
            self._error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return commit

    def _error(self, h: _Handler, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        h.reply(status, body, {"X-Error-Code": code, "X-Error-Message": message})

    def _info(self, h: _Handler, repo_id: str, repo: Repo, rev: str) -> None:
        commit = self._commit(h, repo, unquote(rev))
        if commit is None:
            return
        doc = {
            "id": repo_id,
            "sha": commit,
            "private": repo.token is not None,
            "siblings": [{"rfilename": name} for name in sorted(repo.files)],
        }
        h.reply(200, json.dumps(doc).encode(), {"Content-Type": "application/json"})

    def _entries(self, repo: Repo) -> list[dict]:
        entries, folders = [], set()
        for name in sorted(repo.files):
            sha1, sha256, size = _digests(repo.files[name])
            entries.append(
                {
                    "type": "file",
                    "oid": sha1,
                    "size": size,
                    "path": name,
                    "lfs": {"oid": sha256, "size": size, "pointerSize": 134},
                }
            )
            parts = name.split("/")[:-1]
            folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        entries += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in folders]
        return sorted(entries, key=lambda e: e["path"])

    def _tree(self, h, kind, repo_id, repo, rev, tree_path, query) -> None:  # type: ignore[no-untyped-def]
        if self._commit(h, repo, unquote(rev)) is None:
            return
        prefix = unquote(tree_path or "").strip("/")
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        entries = []
        for e in self._entries(repo):
            rel = e["path"][len(prefix) + 1 :] if prefix else e["path"]
            if prefix and not e["path"].startswith(prefix + "/"):
                continue
            if recursive or "/" not in rel:
                entries.append(e)
        start = int(query.get("cursor", ["0"])[0])
        page = entries[start : start + TREE_PAGE]
        headers = {"Content-Type": "application/json"}
        if start + TREE_PAGE < len(entries):
            nxt = f"{self.endpoint}{urlsplit(h.path).path}?recursive={str(recursive).lower()}"
            headers["Link"] = f'<{nxt}&cursor={start + TREE_PAGE}>; rel="next"'
        h.reply(200, json.dumps(page).encode(), headers)

    def _resolve(self, h: _Handler, kind: str, repo_id: str, rev: str, file_path: str) -> None:
        repo = self._access(h, kind, repo_id)
        if repo is None:
            return
        commit = self._commit(h, repo, rev)
        if commit is None:
            return
        file = repo.files.get(file_path)
        if file is None:
            self._error(h, 404, "EntryNotFound", f"{file_path} does not exist")
            return
        blob = _digests(file)[1]
        cdn = f"http://localhost:{self.server.port}/cdn/{blob}"
        headers = {"Location": cdn, "X-Repo-Commit": commit, "ETag": f'"{blob}"'}
        h.reply(302, b"", headers)
