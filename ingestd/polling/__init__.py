"""Which feeds are polled, when, and how a poll changes a feed's row."""
