"""nlpzoo plugin: pretrained BERT-family encoders (Hugging Face transformers) as a classifier and an embedder."""
