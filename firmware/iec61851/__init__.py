"""IEC 61851-1 basic AC charging: control pilot states, PWM duty, proximity coding and
the charger's sequencing of contactor, lock and faults."""
