"""Training: ``python -m rlvr.train [overrides]`` (see ``rlvr.train.__main__``)."""
