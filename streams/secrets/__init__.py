"""Pluggable storage of the robot secrets hopsharbor chooses (a directory of files by default)."""

from streams.secrets.base import SecretStore, generate_secret
from streams.secrets.directory import DirectorySecretStore

__all__ = ["SecretStore", "DirectorySecretStore", "generate_secret"]
