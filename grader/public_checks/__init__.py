"""Checks students can run themselves (``python -m grader check``); shipped in the student bundle."""
