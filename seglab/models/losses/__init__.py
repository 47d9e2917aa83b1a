"""seglab.models.losses."""
