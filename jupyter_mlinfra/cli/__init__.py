"""``jupyter mlinfra ...``: the command line."""
