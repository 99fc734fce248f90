"""Weight zoos: datasets, networks, training (one at a time and batched), the run files, checkpoints
of people's own networks, and the distributed engine with its shards and Gram tiles."""
