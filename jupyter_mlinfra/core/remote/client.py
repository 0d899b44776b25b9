"""One HTTP connection to the central mlinfra service, its errors mapped back to core errors."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

from .. import errors as core_errors
from ..errors import MLInfraError

API_PATH = "mlinfra/api/"
TIMEOUT = (10.0, 300.0)  # connect, read (a materialize or a verify may take minutes)


class ServiceUnavailable(MLInfraError):
    """The service could not be reached, or answered something that is not its API."""

    code = "service_unavailable"
    http_status = 503
    exit_code = 9


class ServiceError(MLInfraError):
    """An error of the service that has no class of its own here (its code is kept)."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


def _error_classes() -> dict[str, type[MLInfraError]]:
    found: dict[str, type[MLInfraError]] = {}
    todo = [MLInfraError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


def service_token(environ=os.environ) -> str:
    """``MLINFRA_SERVICE_TOKEN``, else ``JUPYTERHUB_API_TOKEN`` (a single-user server's and
    its kernels'), else empty."""
    return environ.get("MLINFRA_SERVICE_TOKEN") or environ.get("JUPYTERHUB_API_TOKEN") or ""


class ServiceClient:
    """``client.call("GET", "jobs", params=...)`` -> the decoded JSON answer; errors raise the
    core error class named by the answer's ``code`` (NotFound, PermissionDenied...)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        if not url.endswith("/"):
            url += "/"
        self.url = url
        self.api = url + API_PATH
        self.token = service_token() if token is None else token
        self._local = threading.local()
        self._classes = _error_classes()

    @property
    def session(self):
        """One kept-alive session per thread (requests' Session is not thread-safe)."""
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.headers["User-Agent"] = "jupyter_mlinfra-remote"
            if self.token:
                session.headers["Authorization"] = f"token {self.token}"
            self._local.session = session
        return session

    def describe(self) -> str:
        return self.url

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        files: Any = None,
        headers: dict | None = None,
        stream: bool = False,
    ):
        import requests

        if not self.token:
            raise core_errors.ConfigurationError(
                f"no token for the mlinfra service at {self.url}: set MLINFRA_SERVICE_TOKEN "
                f"(JupyterHub sets JUPYTERHUB_API_TOKEN in single-user servers and kernels)"
            )
        if files is not None:
            data, headers = _streamed_form(data, files), dict(headers or {})
            headers["Content-Type"] = data.content_type
            files = None
        try:
            response = self.session.request(
                method,
                self.api + path,
                params=params,
                json=json,
                data=data,
                files=files,
                headers=headers,
                stream=stream,
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"cannot reach the mlinfra service at {self.url}: "
                f"{type(exc).__name__}: {str(exc)[:200]}"
            ) from None
        if response.status_code >= 400:
            self._raise(response)
        return response

    def _raise(self, response) -> None:
        try:
            body = response.json()
            error = body["error"]
            code, message = str(error["code"]), str(error["message"])
        except Exception:
            raise ServiceUnavailable(
                f"the mlinfra service at {self.url} answered {response.status_code} "
                f"{response.reason} (not an mlinfra API error): is service_url right?"
            ) from None
        cls = self._classes.get(code)
        if cls is not None and cls is not MLInfraError and not issubclass(cls, ServiceError):
            try:
                exc = cls(message, details=error.get("details"))
            except TypeError:
                exc = cls(message)
            raise exc
        if response.status_code == 403 and code.startswith("http_"):
            raise core_errors.PermissionDenied(
                f"the mlinfra service at {self.url} refused the token ({message})"
            )
        if response.status_code == 404 and code.startswith("http_"):
            raise core_errors.NotFound(message)
        raise ServiceError(code, message, response.status_code)

    def call(self, method: str, path: str, /, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, /, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, /, **kwargs: Any) -> Any:
        return self.call("POST", path, json={} if body is None else body, **kwargs)

    def content(self, path: str, /, **params: Any) -> bytes:
        return self.request("GET", path, params=params or None).content

    def download(self, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The answer's bytes in chunks (large artifacts are not held twice in memory)."""
        response = self.request("GET", path, stream=True)
        try:
            yield from response.iter_content(chunk_size)
        finally:
            response.close()

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None


def _streamed_form(data: Any, files: Any):
    """A multipart/form-data body (``data`` fields, then ``files`` as requests takes them)
    that requests sends as it is read, in pieces (``requests_toolbelt``'s encoder): a large
    model upload is not assembled into one more copy in memory before it goes out."""
    from requests_toolbelt.multipart.encoder import MultipartEncoder

    fields: list = list((data or {}).items()) if isinstance(data, dict) else list(data or [])
    fields += list(files.items()) if isinstance(files, dict) else list(files)
    return MultipartEncoder(fields=fields)


def items(payload: Any, legacy_key: str) -> list:
    """A list answer: the paged envelope's ``items`` or the older ``{legacy_key: [...]}``."""
    if isinstance(payload, dict):
        if "items" in payload:
            return list(payload["items"])
        return list(payload.get(legacy_key) or [])
    return list(payload or [])


def walk(client: ServiceClient, path: str, legacy_key: str, params: dict) -> list:
    """Every item of a paged list (following ``next_cursor``)."""
    params = {k: v for k, v in params.items() if v is not None}
    out: list = []
    while True:
        payload = client.call("GET", path, params=params)
        out.extend(items(payload, legacy_key))
        cursor = payload.get("next_cursor") if isinstance(payload, dict) else None
        if not cursor:
            return out
        params = {**params, "cursor": cursor}
        params.pop("offset", None)
