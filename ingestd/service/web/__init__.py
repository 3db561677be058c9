"""The read-only web pages: a story's copies side by side, with the evidence.

``/`` lists clusters most recently changed first (filters, keyset paging); ``/clusters/ID`` shows
the canonical item and every republication side by side, shared passages highlighted; ``/items/ID``
one item as stored; ``/explain?a=&b=`` the ``clusters explain`` verdict. They are served by
:class:`ingestd.service.web.app.WebPages` on the daemon's listener (:mod:`ingestd.service.listener`)
or by ``ingest serve``.

Modules, one job each: :mod:`.markup` (escaping, links, the page frame), :mod:`.assets` (the
style sheet and the small script, served from the same origin), :mod:`.highlight` (shared,
added and dropped passages; pure), :mod:`.pages` (records in, HTML out), :mod:`.auth` (basic
auth with a scrypt hash) and :mod:`.app` (routes, reads on a thread, security headers).
"""
