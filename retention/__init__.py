"""Retention of stored letters (存信): (region, year) batches, holds, two-person approval,
journaled destruction with crypto-shredding, residue verification and certificates.

Importing the package wires it into the records core (see ``hooks``)."""
from .hooks import install as _install

_install()
