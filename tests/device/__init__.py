"""Checks that need what CI machines cannot have (torchvision, a GPU); run via the device tool."""
