"""Everything that talks to Celery from the web side: sending tasks by name, reading a queued task's state, asking
the workers who is there."""
