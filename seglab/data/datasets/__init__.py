"""seglab.data.datasets."""
