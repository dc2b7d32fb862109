"""QCA7000 framing: header/footer bytes and the byte-wise receive decoder."""
from firmware.plc import framing
from firmware.plc.framing import FrameDecoder, GATHER, HEADER
from tests.common.test_plc_support import frame, raw_frame


def decode_all(stream, chunk=None, max_len=1518):
    """Feed a read-buffer stream through the decoder, return (frames, decoder)."""
    dec = FrameDecoder(max_len)
    dst = bytearray(max_len + 2)
    out = []
    data = bytes(stream)
    step = chunk or len(data) or 1
    for start in range(0, len(data), step):
        end = min(start + step, len(data))
        i = start
        while i < end:
            r = dec.feed(data, i, end, dst)
            i = dec.pos
            if r > 0:
                out.append(bytes(dst[:r]))
    return out, dec


def test_header_and_footer_bytes():
    buf = bytearray(12)
    framing.write_header(buf, 60)
    assert bytes(buf[:8]) == b"\xaa\xaa\xaa\xaa\x3c\x00\x00\x00"
    framing.write_header(buf, 1518)
    assert bytes(buf[4:6]) == b"\xee\x05"
    framing.write_footer(buf, 10)
    assert bytes(buf[10:12]) == b"\x55\x55"


def test_single_frame_bytewise():
    f = frame(60)
    out, dec = decode_all(raw_frame(f))
    assert out == [bytes(f)]
    assert dec.garbage == dec.invlen == dec.notail == 0


def test_several_frames_any_chunking():
    frames = [frame(60, 1), frame(1518, 2), frame(61, 3), frame(300, 4)]
    stream = b"".join(raw_frame(f) for f in frames)
    for chunk in (None, 1, 2, 7, 12, 100):
        out, dec = decode_all(stream, chunk)
        assert out == [bytes(f) for f in frames], chunk
        assert dec.garbage == 0


def test_resync_after_garbage_even_with_zero_bytes():
    f = frame(80)
    # trailing zeros before the header: a decoder that resets after a mismatch and
    # counts four length bytes from there would miss this frame
    for junk in (b"\x13\x37", b"\x00\x00", b"\x00\x00\x00\xaa\xaa", b"\xaa" * 9, b"\x00" * 5):
        out, dec = decode_all(junk + raw_frame(f))
        assert out == [bytes(f)], junk
        assert dec.garbage == len(junk), (junk, dec.garbage)


def test_invalid_lengths_counted_and_skipped():
    good = frame(64, 9)
    bad = [
        raw_frame(frame(59)),  # below the Ethernet minimum
        raw_frame(frame(70), hwlen=70),  # hardware length disagrees
        raw_frame(frame(1519)),  # above the maximum
    ]
    for b in bad:
        out, dec = decode_all(b + raw_frame(good))
        assert out == [bytes(good)]
        assert dec.invlen == 1


def test_missing_tail_counted():
    good = frame(64, 5)
    for eof in (b"\x55\x00", b"\x00\x55"):
        out, dec = decode_all(raw_frame(frame(60), eof=eof) + raw_frame(good))
        assert out == [bytes(good)]
        assert dec.notail == 1


def test_need_reads_end_on_the_header():
    dec = FrameDecoder()
    assert dec.need() == 12
    hdr = raw_frame(frame(60))[:12]
    dec.feed(hdr, 0, 5, None)
    assert dec.need() == 7
    assert dec.feed(hdr, 5, 12, None) == HEADER
    assert dec.need() == 0 and dec.flen == 60
    dec2 = FrameDecoder()
    # after junk ending in "00 00": two bytes of a header may already be in
    assert dec2.feed(b"\x42\x00\x00", 0, 3, None) == GATHER
    assert dec2.need() == 10


def test_random_bytes_never_raise():
    x = 99
    data = bytearray(3000)
    for i in range(len(data)):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        data[i] = (x >> 16) & 0xFF
    # sprinkle plausible header fragments into the noise
    for i in range(0, 3000, 250):
        data[i : i + 10] = b"\x00\x00\x00\x46\xaa\xaa\xaa\xaa\x3c\x00"
    out, dec = decode_all(data, 37)
    assert dec.garbage > 0
    for f in out:
        assert 60 <= len(f) <= 1518
