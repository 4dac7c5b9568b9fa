"""xaiprobe: show what a GAN's discriminator knows."""
__version__ = "0.1.0"
