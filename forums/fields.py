"""Model fields the forums need that Django does not give for every database."""

from __future__ import annotations

from django.contrib.postgres.search import SearchVectorField


class SearchDocumentField(SearchVectorField):
    """A post's stored full-text search document: `tsvector` on PostgreSQL, an unused
    nullable text column elsewhere.

    Why a field whose type depends on the database: search on PostgreSQL needs the
    document stored and GIN-indexed (computing it for every post on every search took
    10-60 s over 100,000 posts), while SQLite, the embedded default, searches with a plain
    contains-match and has no `tsvector`. One field class keeps one model and one
    migration history for both: `makemigrations --check` is clean whichever database it
    runs against, and the ORM reads and writes the same columns everywhere. A model field
    declared only on PostgreSQL, or a column added by raw SQL alone, would make the
    migration state depend on the database it was made with.

    The GIN index is created by migration 0004 on PostgreSQL only (a GIN index cannot be
    declared in `Meta.indexes` without breaking SQLite). Services keep the document up to
    date (`forums.search.refresh_documents`); it is never edited by hand.
    """

    def db_type(self, connection) -> str:
        return "tsvector" if connection.vendor == "postgresql" else "text"
