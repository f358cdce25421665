"""Fill in the search document of every existing post, then index it (PostgreSQL only).

The backfill runs in batches of ids, each in its own short transaction, so a large forum
is never locked for the whole run and a failed run can simply be run again (each batch
recomputes from the current text). The GIN index is built afterwards, concurrently, so
posting goes on while it builds. On other databases there are no documents: nothing runs.

The SQL is frozen here on purpose (a migration must not change when the app code does);
it builds the same document as `forums.search.DOCUMENT_SQL`.
"""

from django.db import migrations, transaction

BATCH = 5000

DOCUMENT_SQL = """
    setweight(to_tsvector('english'::regconfig,
              CASE WHEN p.parent_id IS NULL THEN t.title ELSE '' END), 'A')
    || setweight(to_tsvector('english'::regconfig, COALESCE(p.body, '')), 'B')
"""


def backfill(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), -1) FROM forums_post")
        first, last = cursor.fetchone()
    for start in range(first, last + 1, BATCH):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE forums_post AS p SET search_document = {DOCUMENT_SQL} "
                "FROM forums_thread AS t WHERE t.id = p.thread_id AND p.id >= %s AND p.id < %s",
                [start, start + BATCH],
            )


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS post_search_document "
            "ON forums_post USING gin (search_document)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS post_search_document")


class Migration(migrations.Migration):
    atomic = False  # each batch commits on its own; CREATE INDEX CONCURRENTLY needs this

    dependencies = [
        ("forums", "0003_post_search_document_and_page_indexes"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(create_index, drop_index),
    ]
