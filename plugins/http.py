"""`http>: URL` sends an HTTP request; the task fails unless the response status is 2xx.

Options: `method` (GET), `content` with `content_format` (text | json | form) and `content_type`,
`headers` (a mapping, or a list of one-entry mappings as in Digdag), `query` (a mapping),
`timeout` (seconds, 30), `store_content` (false), `output` (a param name: the body, trimmed, is
stored under it, like `sh>`'s), `print_content` (false: the body goes to the task's output), `retry`
(default: true for GET, HEAD, OPTIONS and TRACE). It stores `http.last_status` (and `http.last_content` with `store_content`; otherwise an
earlier `http.last_content` is removed). Connection errors, timeouts and 5xx answers are retried
with exponential backoff (1, 2, 4, ... up to 30 s; `retry_limit`, default 5) without holding a
worker while it waits.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from digpy.core.spi import (
    ConfigError,
    OperatorContext,
    TaskError,
    TaskResult,
    boolean,
    hookimpl,
    namespaced,
    number,
    whole_number,
)

IDEMPOTENT = ("GET", "HEAD", "OPTIONS", "TRACE")
MAX_BACKOFF = 30.0
MAX_STORED_BYTES = 16 * 1024 * 1024


def options(params: Mapping[str, Any]) -> dict[str, Any]:
    """http>'s options (http_call> shares them): the params over the `http:` namespace."""
    return namespaced(params, "http")


def _text(value: Any) -> str:
    """A value as it goes into a URL, a form or a header: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(h, dict) for h in value):
        pairs = [(k, v) for h in value for k, v in h.items()]
    else:
        raise ConfigError("http> headers must be a mapping or a list of mappings")
    headers = {str(k): _text(v) for k, v in pairs}
    for name, text in headers.items():
        if any(c in name + text for c in "\r\n\0") or not name.strip():
            raise ConfigError(f"http> header {name!r} has a line break or is empty")
    return headers


def _body(opts: Mapping[str, Any]) -> tuple[bytes | None, str | None]:
    if "content" not in opts or opts["content"] is None:
        return None, None
    content = opts["content"]
    fmt = opts.get("content_format") or ("json" if isinstance(content, dict | list) else "text")
    if fmt == "json":
        data = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        return data.encode(), "application/json"
    if fmt == "form":
        if not isinstance(content, dict):
            raise ConfigError("http> content_format: form needs content to be a mapping")
        return urllib.parse.urlencode({k: _text(v) for k, v in content.items()}).encode(), \
            "application/x-www-form-urlencoded"
    if fmt == "text":
        return _text(content).encode(), "text/plain; charset=utf-8"
    raise ConfigError(f"http> content_format must be text, json or form, got {fmt!r}")


async def _read_body(response: Any, limit: int) -> bytes:
    """The whole body, or its first limit + 1 bytes when it is longer. (`content.read(n)` returns
    what has arrived so far, up to n bytes: a 1 MB answer came back as its first 128 KB.)"""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)


async def request(ctx: OperatorContext, url: Any, *, keep_body: bool = True
                  ) -> tuple[int, str, dict[str, str]] | TaskResult:
    """Send the request described by the task's params. Returns (status, body, headers) for a 2xx
    answer, or a poll result while retrying; raises TaskError when it gives up, and when a body
    the caller keeps (`keep_body`) is over MAX_STORED_BYTES."""
    import aiohttp  # here, not at module level: it would add 0.2 s to every digpy start-up

    opts = options(ctx.params)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{ctx.params.get('_type')}> needs an http:// or https:// URL, got {url!r}")
    method = str(opts.get("method", "GET")).upper()
    if not method.isascii() or not method.isalpha():
        raise ConfigError(f"http> method must be a word such as GET or POST, got {method!r}")
    retry = boolean(opts.get("retry", method in IDEMPOTENT), "http> retry")
    limit = whole_number(opts.get("retry_limit", 5), "http> retry_limit")
    timeout = number(opts.get("timeout", 30), "http> timeout")
    body, default_type = _body(opts)
    headers = _headers(opts.get("headers"))
    content_type = opts.get("content_type") or default_type
    if content_type and not any(h.lower() == "content-type" for h in headers):
        headers["Content-Type"] = str(content_type)
    query = opts.get("query")
    if query is not None and not isinstance(query, dict):
        raise ConfigError("http> query must be a mapping")
    attempt = int(ctx.state.get("attempt", 0))
    problem: str
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                session.request(method, url, params={k: _text(v) for k, v in (query or {}).items()},
                                data=body, headers=headers) as response:
            raw = await _read_body(response, MAX_STORED_BYTES)
            if len(raw) > MAX_STORED_BYTES and keep_body and 200 <= response.status < 300:
                raise TaskError(f"the answer to {method} {url} is over {MAX_STORED_BYTES // 1048576} MiB, "
                                f"more than {ctx.params.get('_type')}> keeps; download it with sh> (curl -o FILE) "
                                "instead")
            try:
                text = raw[:MAX_STORED_BYTES].decode(response.charset or "utf-8", "replace")
            except LookupError:  # a charset Python does not know: read it as UTF-8
                text = raw[:MAX_STORED_BYTES].decode("utf-8", "replace")
            if 200 <= response.status < 300:
                return response.status, text, dict(response.headers)
            problem = f"HTTP {response.status} {response.reason or ''}".strip()
            if response.status < 500:
                raise TaskError(f"{problem} from {method} {url}", details=text[:2000])
    except TimeoutError:
        problem = f"no answer within {timeout:g} s"
    except aiohttp.InvalidURL as e:  # nothing to retry
        raise TaskError(f"{method} {url} failed: not a valid URL ({e})") from None
    except aiohttp.ClientError as e:
        problem = f"{type(e).__name__}: {e}"
    if retry and attempt < limit:
        wait = min(2.0**attempt, MAX_BACKOFF)
        ctx.log.warning("%s %s failed (%s); retrying in %g s", method, url, problem, wait)
        return TaskResult.poll(wait, {"attempt": attempt + 1})
    raise TaskError(f"{method} {url} failed: {problem}" + (f" (after {attempt} retries)" if attempt else ""))


class HttpOperator:
    name = "http"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        opts = options(ctx.params)
        store = boolean(opts.get("store_content", False), "http> store_content")
        output = opts.get("output")
        if output is not None and not (isinstance(output, str) and output.isidentifier()):
            raise ConfigError(f"http> output must be a param name such as BODY, got {output!r}")
        shown = boolean(opts.get("print_content", False), "http> print_content")
        answer = await request(ctx, ctx.command, keep_body=store or output is not None or shown)
        if isinstance(answer, TaskResult):
            return answer
        status, text, _headers_seen = answer
        extra = {} if output is None else {output: text.strip()}
        if shown and text:
            ctx.output(text if text.endswith("\n") else text + "\n")
        if store:
            return TaskResult(stores={"http": {"last_status": status, "last_content": text}, **extra})
        return TaskResult(stores={"http": {"last_status": status}, **extra}, reset_stores=["http.last_content"])


@hookimpl
def digpy_register_operators() -> list[type]:
    return [HttpOperator]
