"""Recipes: one absl app per paper (see DESIGN.md, the recipe contract)."""
