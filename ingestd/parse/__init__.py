"""Bytes in, values out: feeds (RSS, Atom, RDF, JSON Feed), feed discovery on pages, OPML."""
