"""Model backends behind one small interface (see :mod:`genspec.backends.base`)."""
