"""HTTP client (firmware/ocpp/http.py) against the loopback server: downloads with
Content-Length, chunked and close-delimited bodies, redirects, Basic auth from the
URL, uploads streamed from files (PUT and multipart POST), and every way a server can
get a response wrong ending in a clean HttpError with nothing left on disk."""
import asyncio

import tools  # noqa: F401
from firmware.ocpp import http
from firmware.storage import fs
from tests.common.support import raises
from tests.common.test_ocpp_http_loopback import serve
from tests.common.test_storage_support import Sandbox, get, put

DATA = bytes(range(256)) * 8 + b"end"  # 2051 bytes: several buffers, an odd tail


def _get(sb, script, path="/fw.bin", auth="", **kw):
    """Download from a server running ``script``: (size or the HttpError, server)."""
    dest = sb.path("fw.bin")

    async def body(srv):
        c = http.Client(**kw)
        try:
            return await c.get(srv.url(path, auth), dest), srv
        except http.HttpError as e:
            return e, srv
    return serve(script, body)


def _nothing_left(sb):
    return not fs.exists(sb.path("fw.bin")) and not fs.exists(sb.path("fw.bin.part"))


def test_parse_url():
    assert http.parse_url("http://h/a/b?q=1") == (False, "h", 80, "/a/b?q=1", None)
    assert http.parse_url("https://h:8443") == (True, "h", 8443, "/", None)
    assert http.parse_url("http://h?x") == (False, "h", 80, "/?x", None)
    assert http.parse_url("http://[::1]:81/p#frag") == (False, "::1", 81, "/p", None)
    assert http.parse_url("http://us%3Ar:p%40ss:w@h/f") == (False, "h", 80, "/f",
                                                            (b"us:r", b"p@ss:w"))
    assert http.parse_url("http://u@h/") == (False, "h", 80, "/", (b"u", b""))
    for bad in ("ftp://h/f", "http://h:x/", "http://:80/", "http://h:99999/", "h/f", "http://h/a b",
                "http://h/a\r\nX-Injected: 1", "http://h\t/"):
        raises(http.HttpError, http.parse_url, bad)


def test_resolve_redirect_locations():
    r = http._resolve
    assert r("http://h:81/a/b", "c") == "http://h:81/a/c"
    assert r("http://u:p@h/a/b?x", "/z") == "http://u:p@h/z"
    assert r("https://h/a", "http://o/x") == "http://o/x"
    assert r("https://h/a", "//o/x") == "https://o/x"


def test_get_with_content_length_streams_into_the_file_with_basic_auth():
    async def script(req):
        await req.answer(DATA)
    with Sandbox("http") as sb:
        n, srv = _get(sb, script, auth="fw%40user:s3cr%3At@", chunk=512)
        assert n == len(DATA) and get(sb.path("fw.bin")) == DATA
        assert not fs.exists(sb.path("fw.bin.part"))
    req = srv.requests[0]
    assert req.method == "GET" and req.path == "/fw.bin"
    # fw@user:s3cr:t
    assert req.headers["authorization"] == "Basic ZndAdXNlcjpzM2NyOnQ=", req.headers
    assert req.headers["host"] == "127.0.0.1:%d" % srv.port
    assert req.headers["connection"] == "close"


def test_get_chunked_with_extensions_and_trailers():
    async def script(req):
        await req.chunked([DATA[:1], DATA[1:1500], DATA[1500:]], ext=b";x=y",
                          trailers=b"X-Sum: 1\r\n")
    with Sandbox("http") as sb:
        n, srv = _get(sb, script, chunk=512)
        assert n == len(DATA) and get(sb.path("fw.bin")) == DATA, (n, srv.errors)


def test_get_without_length_reads_to_the_close():
    async def script(req):
        await req.send(b"HTTP/1.0 200 OK\r\nContent-Type: x\r\n\r\n" + DATA)
    with Sandbox("http") as sb:
        n, _srv = _get(sb, script)
        assert n == len(DATA) and get(sb.path("fw.bin")) == DATA


def test_informational_response_skipped():
    async def script(req):
        await req.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        await req.answer(b"ok")
    with Sandbox("http") as sb:
        n, _srv = _get(sb, script)
        assert n == 2 and get(sb.path("fw.bin")) == b"ok"


def test_redirects_followed_then_a_loop_refused():
    async def script(req):
        if req.path == "/fw.bin":
            await req.redirect("next/a", 301)  # relative to /
        elif req.path == "/next/a":
            await req.redirect("/final?v=2", 307)
        elif req.path == "/final?v=2":
            await req.answer(DATA)
        else:
            await req.redirect(req.path, 302)  # to itself, for ever
    with Sandbox("http") as sb:
        n, srv = _get(sb, script)
        assert n == len(DATA) and get(sb.path("fw.bin")) == DATA
        assert [r.path for r in srv.requests] == ["/fw.bin", "/next/a", "/final?v=2"]
        fs.remove_if_exists(sb.path("fw.bin"))
        e, srv = _get(sb, script, path="/loop")
        assert isinstance(e, http.HttpError) and "redirects" in str(e), e
        assert len(srv.requests) == 4  # the first and three redirects
        assert _nothing_left(sb)


def test_http_error_status_and_nothing_left_behind():
    async def script(req):
        await req.answer(b"nope", 404, "Not Found")
    with Sandbox("http") as sb:
        e, _srv = _get(sb, script)
        assert isinstance(e, http.HttpError) and e.status == 404, e
        assert _nothing_left(sb)


def test_connection_closed_mid_body_is_an_error():
    async def script(req):  # a Content-Length that the body never reaches
        await req.send(b"HTTP/1.1 200 OK\r\nContent-Length: 9000\r\n\r\n" + DATA[:1500])
    with Sandbox("http") as sb:
        put(sb.path("fw.bin"), b"an older download")
        e, _srv = _get(sb, script)
        assert isinstance(e, http.HttpError) and "1500 of 9000" in str(e), e
        assert get(sb.path("fw.bin")) == b"an older download"  # untouched
        assert not fs.exists(sb.path("fw.bin.part"))


def test_malformed_responses_give_clean_errors():
    cases = [
        (b"HELLO\r\n\r\n", "not an HTTP response"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "not an HTTP response"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 600 + b"\r\n\r\n", "too long"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 200, "header lines"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nabc", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", "conflicting"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", "transfer-encoding"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", "CRLF"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "of 5 bytes"),
        (b"HTTP/1.1 302 Found\r\nLocation: \xff\xfe\r\n\r\n", "Location"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10", "connection lost"),
        (b"", "connection lost"),
    ]
    with Sandbox("http") as sb:
        for raw, want in cases:
            async def script(req, raw=raw):
                await req.send(raw)
            e, _srv = _get(sb, script)
            assert isinstance(e, http.HttpError), (raw[:30], e)
            assert want in str(e), (raw[:30], str(e))
            assert _nothing_left(sb)


def test_endless_headers_stop_at_the_limit():
    async def script(req):
        await req.send(b"HTTP/1.1 200 OK\r\n")
        for _ in range(1000):  # a server that never ends its header block
            await req.send(b"X-Filler: yes\r\n")
    with Sandbox("http") as sb:
        e, _srv = _get(sb, script)
        assert isinstance(e, http.HttpError) and "header lines" in str(e), e


def test_body_larger_than_the_limit_refused():
    async def script(req):
        if req.path == "/cl":
            await req.answer(DATA)
        else:
            await req.chunked([DATA, DATA])
    with Sandbox("http") as sb:
        for path in ("/cl", "/chunked"):
            async def body(srv, path=path):
                try:
                    return await http.Client().get(srv.url(path), sb.path("fw.bin"), max_bytes=2000)
                except http.HttpError as e:
                    return e
            e = serve(script, body)
            want = len(DATA) if path == "/cl" else 2 * len(DATA)
            assert isinstance(e, http.HttpError) and ("more than 2000" in str(e)) \
                and (path == "/chunked" or str(want) in str(e)), e
            assert _nothing_left(sb)


def test_a_stalled_server_times_out():
    async def script(req):
        await req.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        await asyncio.sleep(5)  # and nothing more
    with Sandbox("http") as sb:
        e, _srv = _get(sb, script, timeout_ms=200)
        assert isinstance(e, http.HttpError) and "timed out" in str(e), e
        assert _nothing_left(sb)


def test_refused_connection_and_https_without_a_ca():
    async def main(dest):
        out = []
        for url in ("http://127.0.0.1:1/x", "https://127.0.0.1:1/x"):
            try:
                await http.Client().get(url, dest)
            except http.HttpError as e:
                out.append(str(e))
        return out
    with Sandbox("http") as sb:
        out = asyncio.run(main(sb.path("fw.bin")))
    # (MicroPython's non-blocking connect reports the refusal at the first write)
    assert len(out) == 2 and ("connect" in out[0] or "REFUSED" in out[0]) and "CA" in out[1], out


def test_put_streams_file_ranges_bytes_and_zeros():
    async def script(req):
        await req.answer(b"", 201, "Created")
    with Sandbox("http") as sb:
        put(sb.path("a.bin"), DATA)
        parts = [b"head:", http.file_part(sb.path("a.bin"), 100, 1000), b":tail",
                 http.file_part(sb.path("a.bin"), 2000), 300]

        async def body(srv):
            c = http.Client(chunk=256)
            return await c.send(srv.url("/up/a.bin", "u:p@"), parts), c.moved, srv
        status, moved, srv = serve(script, body)
    want = b"head:" + DATA[100:1100] + b":tail" + DATA[2000:] + bytes(300)
    req = srv.requests[0]
    assert status == 201 and req.method == "PUT" and req.body == want and moved == len(want)
    assert req.headers["content-length"] == str(len(want))
    assert req.headers["content-type"] == "application/octet-stream"
    assert req.headers["authorization"] == "Basic dTpw"


def test_multipart_post_carries_the_file():
    async def script(req):
        await req.answer(b"thanks")
    with Sandbox("http") as sb:
        put(sb.path("d.tar"), DATA)
        parts, ctype = http.multipart([http.file_part(sb.path("d.tar"))], "diag.tar")

        async def body(srv):
            return await http.Client().send(srv.url("/diag"), parts, "POST", ctype), srv
        status, srv = serve(script, body)
    req = srv.requests[0]
    assert status == 200 and req.method == "POST"
    ct = req.headers["content-type"]
    assert ct.startswith("multipart/form-data; boundary=")
    boundary = ct.split("boundary=")[1].encode()
    assert req.body.startswith(b"--" + boundary + b"\r\n")
    assert req.body.endswith(b"\r\n--" + boundary + b"--\r\n")
    head, _, rest = req.body.partition(b"\r\n\r\n")
    assert b'name="file"; filename="diag.tar"' in head
    assert rest[:len(DATA)] == DATA and len(rest) == len(DATA) + len(boundary) + 8


def test_upload_refused_by_the_server():
    async def script(req):
        await req.answer(b"no", 500, "Oops")
    with Sandbox("http") as sb:
        put(sb.path("a.bin"), b"x" * 10)

        async def body(srv):
            try:
                await http.Client().send(srv.url("/up"), [http.file_part(sb.path("a.bin"))])
            except http.HttpError as e:
                return e
        e = serve(script, body)
    assert isinstance(e, http.HttpError) and e.status == 500


def test_upload_of_a_file_that_shrinks_fails():
    async def script(req):
        await req.answer(b"")
    with Sandbox("http") as sb:
        put(sb.path("a.bin"), b"x" * 100)
        parts = [http.file_part(sb.path("a.bin"))]
        put(sb.path("a.bin"), b"x" * 10)  # rewritten between measuring and sending

        async def body(srv):
            try:
                await http.Client().send(srv.url("/up"), parts)
            except http.HttpError as e:
                return e
        e = serve(script, body)
    assert isinstance(e, http.HttpError) and "shrank" in str(e), e
