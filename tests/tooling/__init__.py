"""Tests of the development tooling (tooling/): demo and fleet generators."""
