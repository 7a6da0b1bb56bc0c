"""Text GANs for nlpzoo: SeqGAN over any zoo language model, and Kim's CNN sentence classifier."""
