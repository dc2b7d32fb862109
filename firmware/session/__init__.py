"""Session control: who may charge, how much, and the record of every session."""
