"""EXI schema compiler: XSDs -> EXI grammars -> C tables (python -m tools.exigen). See native/STATUS.md."""
