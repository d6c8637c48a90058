"""Reading an agent's screen: a terminal emulator and the pattern classifier."""
