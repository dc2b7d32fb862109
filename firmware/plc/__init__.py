"""PLC link: the QCA7000 Green PHY modem over SPI (``qca7000``) and its serial framing
(``framing``). Ethernet frames in and out; SLAC and IPv6 live above."""
