"""seglab.evaluation."""
