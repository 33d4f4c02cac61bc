"""Tier-2 physical proxies computed from atomistic simulations (e.g. :mod:`screening.proxies.melting`)."""
