"""Six training objectives on biased data, ResNet18 and mini-batch CKA (notebook ``04_cka_objectives``).

Paper: G. Bangaru, L. B. Baru, K. Chakravarthula, "Interpreting Bias in the Neural Networks: A Peek Into
Representational Similarity". Data: the biased datasets of DisEnt (Lee et al., 2021) and LfF (Nam et al.,
2020): Colored MNIST and Corrupted CIFAR-10 in the DisEnt folder layout.
"""
