"""Linux board: the firmware on a real network interface (AF_PACKET raw Ethernet)."""
