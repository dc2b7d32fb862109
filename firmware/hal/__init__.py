"""Hardware abstraction: the narrow boundary between the firmware and a board.

Every board (``boards/<name>``) builds a :class:`firmware.hal.board.Board` whose parts
implement the classes of this package. Only this package and ``boards/`` touch
``machine``; the simulated board implements the same classes, so the firmware cannot
tell a simulation from a wallbox.

Parts: ``pilot.ControlPilot`` (CP PWM and plateau sampling), ``proximity.ProximityPilot``
(PP resistor), ``contactor.Contactor`` (with mirror contact), ``rcd.Rcd`` (6 mA DC
detection), ``lock.Lock`` (connector lock), ``meter.Meter``, ``led.StatusLed``.
"""
