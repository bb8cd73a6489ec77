"""Migrations of every tenant database (scope ``tenant``), one module each: ``mNNNN_words.py``."""
