"""Helpers shared by the test suites: real processes on loopback, and test images."""
