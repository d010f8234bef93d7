"""Helpers shared by test packages: loopback servers, copies of the working tree."""
