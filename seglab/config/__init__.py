"""seglab.config."""
