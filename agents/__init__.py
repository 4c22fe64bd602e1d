"""Operator side: seats and their states (seat), the ACD (acd, queue, strategy, waiting),
events and figures (events, stats), screen pop (screenpop) and the MQTT console (console).

Kept free of imports so `ivr.store` can use `agents.events` without a cycle."""
