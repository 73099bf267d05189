"""The embedded search backend: Whoosh indexes on disk, one shard per year.

One job a module:

- ``schema``: the fields, the blind fields' analyzer (lists of blind tokens only), a
  document of the interface as Whoosh fields;
- ``codec``: the blind fields' posting formats and the segment codec in use;
- ``storage``: the index's files — generations, their meta file, atomic replacement;
- ``shards``: one Whoosh index per year of receipt, opened, written, purged and tidied;
- ``segments``: merge policies, and the segment readers kept between writes and searches;
- ``bulk``: rebuilds (``handoff``: the in-memory key of a multi-process rebuild);
- ``execution``: queries run on per-segment arrays, scored with ``search.scoring``'s BM25
  (the PostgreSQL backend's too);
- ``backend``: ``WhooshBackend``, the class implementing ``search.interface.SearchBackend``;
- ``internals``: every use of Whoosh's private API, naming the Whoosh-Reloaded release it
  mirrors (pinned exactly in ``pyproject.toml``, checked when a backend is built).

Only lists of blind tokens are ever given to Whoosh: no plaintext reaches the index, its
temporary posting runs, or the job files of a multi-process writer.
"""
