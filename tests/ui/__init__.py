"""Tests for monitor."""
