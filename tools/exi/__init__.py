"""EXI host tools: the pure-Python oracle codec, the JSON mapping, the CLI (python -m tools.exi), document generator and benchmark. See native/STATUS.md."""
