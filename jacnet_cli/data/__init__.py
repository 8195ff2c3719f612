"""Data: sampled from a target, read from users' files, streamed in blocks. Imports core."""
