"""A tiny JSON-over-HTTP client on the standard library (the check tools need nothing else)."""
import json
import urllib.error
import urllib.request


class HttpError(Exception):
    def __init__(self, status, body, url):
        super().__init__(f"{url}: HTTP {status}: {body[:300]}")
        self.status, self.body = status, body


def request(method, url, payload=None, timeout=120.0, raw=None, headers=None):
    """Returns (status, body bytes, response headers); raises OSError-based errors when nothing answers."""
    data = raw if raw is not None else (None if payload is None else json.dumps(payload).encode("utf-8"))
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers or {})


def post_json(url, payload, timeout=120.0):
    status, body, _ = request("POST", url, payload, timeout)
    if status != 200:
        raise HttpError(status, body.decode("utf-8", "replace"), url)
    return json.loads(body)


def get(url, timeout=30.0):
    status, body, _ = request("GET", url, None, timeout)
    if status != 200:
        raise HttpError(status, body.decode("utf-8", "replace"), url)
    return body


def describe_connection_error(url, e):
    return (f"cannot reach {url} ({e.reason if hasattr(e, 'reason') else e}); is the server running? "
            "(e.g. build/release/apps/ember-serve/ember-serve --model DIR --port 8080)")


def require_server(tool, base_url, timeout=10.0):
    """Exit 1 with a clear message unless GET base_url/health answers 200."""
    import sys
    url = base_url.rstrip("/") + "/health"
    try:
        get(url, timeout)
    except HttpError as e:
        print(f"{tool}: error: {url} answered HTTP {e.status}: {e.body[:200]}", file=sys.stderr)
        sys.exit(1)
    except (urllib.error.URLError, OSError) as e:
        print(f"{tool}: error: {describe_connection_error(url, e)}", file=sys.stderr)
        sys.exit(1)
