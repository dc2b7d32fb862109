"""V2G transport: SDP server and V2GTP framing (ISO 15118-2 / DIN SPEC 70121 clause 7.8 / 8.7)."""
