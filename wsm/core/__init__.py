"""The basics every wing uses: errors, paths, progress bars, atomic and checksummed files, the
version, the paper's printed numbers (paper) and every profile's settings (profiles)."""
