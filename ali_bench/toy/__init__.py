"""The 25-Gaussian toy experiment: batched ALI/GAN training, mode coverage."""
