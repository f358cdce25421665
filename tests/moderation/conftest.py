"""Fixtures shared with the community tests: chat sockets closed after each test."""

from tests.community.chat_fixtures import chat  # noqa: F401
