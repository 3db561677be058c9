"""Duplicate detection: text normalisation, signatures, comparison and pure cluster decisions.

Nothing here touches the network or the database: values in, values out.
"""
