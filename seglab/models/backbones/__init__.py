"""seglab.models.backbones."""
