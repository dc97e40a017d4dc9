"""Command groups of the ``screening`` CLI; each module has ``register(app)``."""
