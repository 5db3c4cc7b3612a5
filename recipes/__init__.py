"""Recipes: one line per paper naming its experiment (docs/design.md, the recipe contract)."""
