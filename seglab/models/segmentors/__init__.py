"""seglab.models.segmentors."""
