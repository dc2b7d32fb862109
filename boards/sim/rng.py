"""Deterministic xorshift32 noise, identical on both runtimes (the timelines must match)."""


class Rng:
    def __init__(self, seed=1):
        self.s = (seed or 1) & 0xFFFFFFFF

    def next(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.next() % n

    def noise(self, sigma):
        """Approximately normal integer noise with standard deviation ``sigma``."""
        # Irwin-Hall: the sum of 4 uniforms on [-1, 1) has sigma 2/sqrt(3) ~ 1.155
        t = 0
        for _ in range(4):
            t += (self.next() & 0xFFFF) - 0x8000
        return t * sigma * 866 // (0x8000 * 1000)
