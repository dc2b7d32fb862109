"""CPython stand-in for MicroPython's builtin ``micropython`` module.

Host only: never deployed (a file of this name on a device would shadow the builtin).
Entry points on the host put ``lib/cpython`` on ``sys.path``.
"""


def const(value):
    return value


def native(func):
    return func


viper = native


def heap_lock():
    return 0


def heap_unlock():
    return 0


def mem_info(*_args):
    pass


def opt_level(*_args):
    return 0


def schedule(func, arg):
    func(arg)
