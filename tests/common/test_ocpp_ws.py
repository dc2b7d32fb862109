"""WebSocket client (firmware/ocpp/ws.py) against the loopback server: the HTTP
upgrade and its refusals, URL and PEM helpers."""

import tools  # noqa: F401
from firmware.ocpp import ws
from tests.common.support import raises, run
from tests.common.test_ocpp_loopback import Server, echo, expect, session


def test_handshake_headers_and_echo():
    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=1024)
        await c.connect()
        assert c.open and c.subprotocol == "ocpp1.6"
        await c.send('[2,"1","Heartbeat",{}]')
        assert await c.recv() == '[2,"1","Heartbeat",{}]'
        await c.send("h\u00e9 \u20ac")  # multi-byte UTF-8 both ways
        assert await c.recv() == "h\u00e9 \u20ac"
        await c.send(b"\x00\xffbin")
        assert await c.recv() == b"\x00\xffbin"
        await c.close()
        assert not c.open
        got = (await srv.wait())[0]
        assert [f.opcode for f in got] == [1, 1, 2]
        conn = srv.conns[0]
        assert conn.request == "GET /ocpp/CP_1 HTTP/1.1"
        h = conn.headers
        assert h["upgrade"].lower() == "websocket" and "upgrade" in h["connection"].lower()
        assert h["sec-websocket-version"] == "13"
        assert h["sec-websocket-protocol"] == "ocpp1.6"
        assert h["host"] == "127.0.0.1:%d" % srv.port
        assert len(h["sec-websocket-key"]) == 24
        assert "authorization" not in h
    session(echo, body)


def test_basic_auth_header():
    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=1024, auth=("CP_1", "secret"))
        await c.connect()
        await c.close()
        assert srv.conns[0].headers["authorization"] == "Basic Q1BfMTpzZWNyZXQ="
        bad = ws.WebSocket(srv.url, max_message=1024, auth=("CP_1", "wrong"))
        e = await expect(ws.HandshakeError, bad.connect())
        assert e.status == 401
        none = ws.WebSocket(srv.url, max_message=1024)
        assert (await expect(ws.HandshakeError, none.connect())).status == 401
    session(echo, body, require_auth="Basic Q1BfMTpzZWNyZXQ=")


def _refused(**opts):
    async def body(srv):
        return await expect(ws.HandshakeError, ws.WebSocket(srv.url, max_message=1024).connect())
    return session(echo, body, **opts)


def test_subprotocol_mismatch_refused():
    assert "ocpp2.0.1" in str(_refused(protocol="ocpp2.0.1"))
    assert "no subprotocol" in str(_refused(protocol=None))


def test_server_refusing_the_subprotocol_refused():
    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=1024, subprotocols=("ocpp2.0.1",))
        return await expect(ws.HandshakeError, c.connect())
    assert session(echo, body).status == 400


def test_bad_accept_key_refused():
    e = _refused(accept=b"s3pPLMBiTxaQ9kYGzzo=")
    assert "Accept" in str(e)


def test_unrequested_extension_refused():
    assert "extension" in str(_refused(extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n"))


def test_not_http_and_bad_headers_refused():
    assert "HTTP" in str(_refused(raw_response=b"SSH-2.0-OpenSSH\r\n\r\n"))
    e = _refused(raw_response=b"HTTP/1.1 101 OK\r\nno colon here\r\n\r\n")
    assert "header" in str(e)
    e = _refused(raw_response=b"HTTP/1.1 101 OK\r\nX: " + b"a" * 2000 + b"\r\n\r\n")
    assert "too long" in str(e)
    e = _refused(raw_response=b"HTTP/1.1 101 OK\r\n" + b"X: y\r\n" * 100 + b"\r\n")
    assert "too many" in str(e)
    e = _refused(raw_response=b"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n\r\n")
    assert "Upgrade" in str(e)


def test_connection_refused_is_oserror():
    async def main():
        srv = await Server(echo).start()
        port = srv.port
        await srv.stop()
        c = ws.WebSocket("ws://127.0.0.1:%d/x" % port, max_message=1024)
        try:
            await c.connect()
        except (OSError, ws.ConnectionClosed):
            return True
        return False
    assert run(main())


def test_parse_url():
    assert ws.parse_url("ws://h/ocpp/CP1") == (False, "h", 80, "/ocpp/CP1")
    assert ws.parse_url("wss://h:9443") == (True, "h", 9443, "/")
    assert ws.parse_url("ws://[::1]:9000/x?y=1") == (False, "::1", 9000, "/x?y=1")
    assert ws.parse_url("wss://[fe80::1]/p") == (True, "fe80::1", 443, "/p")
    for bad in ("http://h/", "ws://", "ws://h:x/", "ws://h:0/", "ws://h:70000/",
                "ws://u:p@h/", "ws://[::1/", "ws://:80/"):
        raises(ValueError, ws.parse_url, bad)
    raises(ValueError, ws.WebSocket, "wss://h/")  # wss without a TLS context


def test_pem_to_der():
    der = bytes(range(60))
    import binascii
    b64 = binascii.b2a_base64(der).strip()
    pem = b"-----BEGIN CERTIFICATE-----\n" + b64[:40] + b"\n" + b64[40:] + \
        b"\n-----END CERTIFICATE-----\n"
    assert ws.pem_to_der(pem) == der
    assert ws.pem_to_der(pem.decode()) == der
    raises(ValueError, ws.pem_to_der, b"nothing")


def test_authorization_key_to_basic_password():
    assert ws.basic_password("00112233445566778899aabbccddeeff00112233") == \
        bytes(range(0, 256, 17))[:16] + b"\x00\x11\x22\x33"
    assert ws.basic_password("0123456789ABCDEF0123456789abcdef") == \
        b"\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef"
    assert ws.basic_password("secret-key-16chr") == b"secret-key-16chr"  # plain
    assert ws.basic_password("zz" * 16) == b"zz" * 16  # not hex: as it is
    assert ws.basic_password("0" * 33) == b"0" * 33  # odd length: as it is

    async def body(srv):  # a binary password goes out as its bytes
        c = ws.WebSocket(srv.url, max_message=1024,
                         auth=("CP_1", ws.basic_password("00ff" * 8)))
        await c.connect()
        await c.close()
    import binascii
    want = "Basic " + binascii.b2a_base64(b"CP_1:" + b"\x00\xff" * 8).strip().decode()
    session(echo, body, require_auth=want)
