"""Migrations of the platform database (scope ``platform``), one module each: ``mNNNN_words.py``."""
