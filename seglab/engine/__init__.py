"""seglab.engine."""
