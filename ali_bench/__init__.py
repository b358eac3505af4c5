"""ali-bench: regenerate the tables and figures of Adversarially Learned Inference (Dumoulin et al., ICLR 2017)."""

__version__ = "0.1.0"
