"""Registers SeqGAN and the CNN sentence classifier (its default discriminator)."""
import nlpzoo

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_components(register):
    register("gan", "seqgan", target="nlpzoo_textgan.seqgan:SeqGAN",
             summary="SeqGAN: a zoo language model trained against a text classifier by policy gradient with roll-outs.",
             tags=("text", "generation", "gan", "torch"))
    register("classifier", "cnn-classifier", target="nlpzoo_textgan.cnn:CNNClassifier",
             summary="Convolutional sentence classifier (Kim, 2014): filters of several widths, max over time.",
             tags=("text", "classification", "cnn"))
