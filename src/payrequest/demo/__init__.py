"""Demo data and the demo start-up: a newcomer's first look at payrequest."""
