"""Hostile peer: hypothesis-generated frames against the RPC endpoint and raw bytes
against the WebSocket client. Nothing may escape but the documented errors, and the
receive loop must keep answering afterwards.

CPython only: hypothesis does not run under MicroPython (the deterministic garbage
cases run under both in tests/common/test_ocpp_rpc_incoming.py and
test_ocpp_ws_frames.py).
"""
import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tools  # noqa: F401
from firmware.ocpp import rpc, ws
from lib import log
from tests.common.test_ocpp_loopback import Server, frame
from tests.common.test_ocpp_pipe import Pipe, endpoint



@pytest.fixture(autouse=True, scope="module")
def _quiet_log():
    saved, log.level = log.level, log.ERROR + 10  # thousands of expected warnings
    yield
    log.level = saved


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner,
                                                                  max_size=5),
    max_leaves=20)
_actions = st.sampled_from(["Reset", "ChangeConfiguration", "SetChargingProfile", "ClearCache",
                            "DataTransfer", "UnlockConnector", "Nope", ""])
_frames = st.one_of(
    _json.map(json.dumps),
    st.tuples(st.sampled_from([2, 3, 4, 5, "2", 2.0]), st.text(max_size=40) | st.integers(),
              _actions, _json).map(lambda t: json.dumps(list(t))),
    st.tuples(st.just(2), st.text(min_size=1, max_size=36), _actions,
              st.dictionaries(st.sampled_from(["type", "key", "value", "connectorId",
                                               "csChargingProfiles", "x"]), _json, max_size=3))
    .map(lambda t: json.dumps(list(t))),
    st.text(max_size=60),
    st.binary(max_size=30),
)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_frames, min_size=1, max_size=8))
def test_rpc_survives_any_frames(frames):
    async def main():
        r, _log = endpoint()
        pipe = Pipe()
        task = asyncio.create_task(r.serve(pipe))
        for f in frames:
            pipe.feed(f)
        pipe.feed([2, "probe", "Reset", {"type": "Soft"}])
        answers = []
        while True:
            m = await pipe.next_sent()
            answers.append(m)
            if m[1] == "probe":
                break
        pipe.drop()
        await task
        return answers
    answers = asyncio.run(main())
    assert answers[-1] == [3, "probe", {"status": "Accepted"}]
    for a in answers[:-1]:  # every answer is a well-formed CALLRESULT/CALLERROR
        assert a[0] in (3, 4) and type(a[1]) is str
        if a[0] == 4:
            assert a[2] in (rpc.NOT_IMPLEMENTED, rpc.NOT_SUPPORTED, rpc.FORMATION_VIOLATION,
                            rpc.PROTOCOL_ERROR, rpc.TYPE_CONSTRAINT_VIOLATION,
                            rpc.PROPERTY_CONSTRAINT_VIOLATION, rpc.INTERNAL_ERROR,
                            rpc.GENERIC_ERROR, rpc.OCCURENCE_CONSTRAINT_VIOLATION)
            assert type(a[3]) is str and type(a[4]) is dict


_raw = st.one_of(
    st.binary(max_size=64),
    st.tuples(st.integers(0, 15), st.binary(max_size=200), st.booleans(),
              st.sampled_from([0, 0x40])).map(lambda t: frame(t[0], t[1], fin=t[2], rsv=t[3])),
)


@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_raw, min_size=1, max_size=6))
def test_ws_client_survives_any_bytes(chunks):
    async def script(conn):
        for c in chunks:
            await conn.send_raw(c)
        return None  # then the server drops the connection

    async def main():
        srv = await Server(script).start()
        try:
            c = ws.WebSocket(srv.url, max_message=256)
            await c.connect()
            got = 0
            while True:
                try:
                    m = await c.recv()
                except ws.WsError as e:
                    assert not c.open
                    return got, e
                assert isinstance(m, (str, bytes)) and len(m) <= 256
                got += 1
        finally:
            await srv.stop()
    got, err = asyncio.run(main())
    assert isinstance(err, (ws.ProtocolError, ws.ConnectionClosed))
