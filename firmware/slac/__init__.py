"""ISO 15118-3 SLAC over HomePlug Green PHY: management messages (``mme``), key and NID
derivation (``keys``), the charger side of matching (``evse``)."""
