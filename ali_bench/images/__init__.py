"""ALI on images: training, figures."""
