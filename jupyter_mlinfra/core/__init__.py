"""The core library: plain Python, no Jupyter server, tornado or IPython imports."""
