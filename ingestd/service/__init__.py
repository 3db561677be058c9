"""The long-running service: daemon, reload, notify, HTTP (feeds out, metrics, web pages), lock,
retention, logs."""
