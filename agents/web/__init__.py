"""The operator and supervisor console in the browser (ASGI app served by `ivr serve`)."""
