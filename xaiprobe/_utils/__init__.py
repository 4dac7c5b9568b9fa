"""Private helpers shared by the subpackages."""
