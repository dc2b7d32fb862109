"""The simulated board: faithful models of the wallbox hardware and of the vehicle on
the other end of the cable, in the common subset so a whole session runs in one process
under CPython or MicroPython."""
