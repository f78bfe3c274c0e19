"""Shared torch building blocks."""
