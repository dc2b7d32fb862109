"""Main contactor with its mirror (auxiliary) contact."""


class Contactor:
    """Base for a board's contactor driver.

    ``set(closed)`` drives the coil. ``feedback()`` reports what the mirror contact says
    about the main contacts (True: closed); boards without a mirror contact set
    ``has_feedback = False`` and return the commanded state.
    """

    has_feedback = True

    def __init__(self):
        self.commanded = False

    def set(self, closed):
        raise NotImplementedError

    def feedback(self):
        raise NotImplementedError
