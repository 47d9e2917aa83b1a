"""seglab.models.samplers."""
