"""Tiny leveled logger: one line per event, a pluggable sink, no allocation when muted."""
from lib import clock

DEBUG = 10
INFO = 20
WARN = 30
ERROR = 40

level = INFO
_sink = None


def set_sink(func):
    """Send log lines to ``func(ticks_ms, level, tag, text)`` instead of print()."""
    global _sink
    _sink = func


def _emit(lvl, tag, msg, args):
    if lvl < level:
        return
    text = (msg % args) if args else msg
    if _sink is not None:
        _sink(clock.ticks_ms(), lvl, tag, text)
    else:
        print("%s %s: %s" % ("DIWE"[lvl // 10 - 1], tag, text))


def debug(tag, msg, *args):
    _emit(DEBUG, tag, msg, args)


def info(tag, msg, *args):
    _emit(INFO, tag, msg, args)


def warn(tag, msg, *args):
    _emit(WARN, tag, msg, args)


def error(tag, msg, *args):
    _emit(ERROR, tag, msg, args)
