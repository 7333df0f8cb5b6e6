"""Seed 002's questions and answers."""
