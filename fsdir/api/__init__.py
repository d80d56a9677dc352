"""The event API: envelope, auth, the event registry and the two transports."""
