"""Minimal IPv6 stack for the V2G link: Ethernet II, IPv6, ICMPv6/NDP, UDP, TCP (server side).

``stack.Stack`` ties the layers together; the other modules are its parts.
"""
