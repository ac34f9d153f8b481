"""The journey's rules as plain Python, with no Temporal and no I/O: the send-window
arithmetic, what the journey knows and plans, what is due and why, and what an
operator reads of it. The workflow turns these decisions into timers and activities;
tests cover them in milliseconds."""
