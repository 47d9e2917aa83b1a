"""seglab.models.heads."""
