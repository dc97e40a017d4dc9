"""Input-table contracts: canonical names, Chinese aliases, types, checks and the folder reader."""
