"""The Jupyter server extension: REST handlers over the core library."""
