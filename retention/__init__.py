"""Retention of stored letters (存信): (region, year) batches, holds, two-person approval,
journaled destruction with crypto-shredding, residue verification and certificates.

Importing the package changes nothing: ``app.composition.build_instance`` registers its
batch key provider, key store, key-file holder, ``on_stored`` hook and destruction job."""
