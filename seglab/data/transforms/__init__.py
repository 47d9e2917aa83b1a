"""seglab.data.transforms."""
