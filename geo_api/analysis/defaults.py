"""The defaults every floor shares, defined once (analysis is the lowest floor, so services,
routers, maps and the CLI can all import them)."""

# The offence group an analysis uses when none is named: police.uk's proxy for serious
# violence (Violence and sexual offences + Robbery + Possession of weapons).
DEFAULT_GROUP = "violence_robbery_weapons"

# The random seed of every permutation test and simulation unless the caller gives one.
DEFAULT_SEED = 12345

# Gi* conditional randomisations per cell (the API's and the maps' default).
DEFAULT_PERMUTATIONS = 9999
