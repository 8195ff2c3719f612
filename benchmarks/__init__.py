"""jacnet's benchmarks: one folder per study, its code beside its results (README.md lists
them). `common` holds the helpers every study shares."""
