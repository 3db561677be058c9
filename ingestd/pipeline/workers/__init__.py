"""The CPU pool: worker processes, their forkserver and its start-up tuning."""
