"""Paper experiments as functions (recipes are their command lines)."""
