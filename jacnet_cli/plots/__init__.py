"""Plots: pure drawing (`draw`) and which figures a run gets (`figures`). Imports core, data and run."""
