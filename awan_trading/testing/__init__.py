"""Helpers a test (ours or a user's) imports: the crash-safety harness of the order path."""
