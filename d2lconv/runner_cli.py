"""Placeholder replaced by the chapter runner."""


def add_commands(sub):
    return None
