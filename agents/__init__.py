"""Operator side: seats and their states (seat), the queue (acd, queue, strategy, waiting),
the event log and figures (eventlog, stats), the MQTT console (console) and the browser
console (web). It builds on `ivr.records`, `ivr.store` and `ivr.bus`; nothing in `ivr` imports
it except the composition root (`ivr.app`)."""
