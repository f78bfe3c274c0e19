"""Generators over scores: Markov chains, genetic algorithms, neural models."""
