"""High-level communication glue: one Ethernet link shared by SLAC and the IPv6 stack."""
