"""Reusable test doubles: real servers on 127.0.0.1 that stand in for external APIs."""
