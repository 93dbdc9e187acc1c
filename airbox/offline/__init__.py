"""The offline bundle: one archive with everything an install needs, for a machine with no
internet (``manifest``: what it lists; ``archive``: create, verify, unpack)."""
