"""OCPP 1.6J charge-point client.

Transport: ``ws`` (RFC 6455 WebSocket client, TLS, Basic auth, keep-alive, back-off)
and ``rpc`` (OCPP-J CALL/CALLRESULT/CALLERROR framing, the outgoing call queue, incoming
call dispatch and payload validation from compact schema tables). The feature profiles
build on these. Import the submodules directly; this package imports nothing.
"""
