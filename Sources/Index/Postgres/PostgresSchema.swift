import PostgresNIO

/// The PostgreSQL index's tables (schema version 2), the same rows as SQLite's (`Schema`):
/// - `metadata(key, value)`: `schema_version`, `encoder_model_id`, `encoder_dimension`, `analyzer`,
///   `generation` (bumped by every write, so other servers can tell the index changed);
/// - `documents`: as in SQLite;
/// - `chunks(…, terms, term_count, terms_tsv)`: `terms` are the chunk's `KeywordAnalyzer` terms
///   (space-separated, made in Swift, so both implementations rank with the same French analysis
///   whatever the server's dictionaries); `terms_tsv` holds them as a `tsvector` built from those
///   lexemes with their positions (nothing re-parses them); `term_count` is the chunk's length in
///   terms (BM25's document length);
/// - `postings(term, chunk_id, tf, chunk_terms)`: one row per distinct term of each chunk, with its
///   frequency and the chunk's length, keyed by term (version 2): a keyword query reads the
///   postings of its few terms from that key alone, as FTS5 reads its posting lists, instead of
///   unnesting every matching chunk's whole `tsvector` (over a second a query at 200k chunks);
/// - `vectors(chunk_id, model_id, dim, embedding vector)`: a pgvector column without a fixed
///   dimension, and one partial HNSW index per dimension (`vectors_hnsw_<dim>`, `vector_cosine_ops`
///   over `embedding::vector(dim)`), made when vectors of that dimension are first stored;
/// - `corpus(chunks, terms)` and `term_documents(term, documents)`: BM25's collection statistics
///   (chunk count, total terms, chunks holding each term), kept with `postings` by statement
///   triggers on `chunks` so that a query reads them by key instead of counting (FTS5 keeps the
///   same figures).
///
/// Migrations run in one transaction under an advisory lock, so servers starting together on a
/// new database do not race; `metadata.schema_version` says which have run.
enum PostgresSchema {
    static let version = 2

    /// Statements of each version, in order (postgres-nio sends one statement per query).
    static let migrations: [[String]] = [
        // Version 1.
        [
            """
            CREATE TABLE documents (
                id bigserial PRIMARY KEY,
                path text NOT NULL UNIQUE,
                sha256 text NOT NULL,
                size bigint NOT NULL,
                mtime double precision NOT NULL,
                pages integer NOT NULL,
                status text NOT NULL CHECK (status IN ('indexed', 'failed')),
                error text,
                chunking text NOT NULL,
                indexed_at double precision NOT NULL
            )
            """,
            """
            CREATE TABLE chunks (
                id bigserial PRIMARY KEY,
                document_id bigint NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                ordinal integer NOT NULL,
                page integer,
                start_offset integer NOT NULL,
                end_offset integer NOT NULL,
                text text NOT NULL,
                context text NOT NULL DEFAULT '',
                terms text NOT NULL DEFAULT '',
                term_count integer NOT NULL DEFAULT 0,
                terms_tsv tsvector NOT NULL DEFAULT ''::tsvector,
                UNIQUE (document_id, ordinal)
            )
            """,
            "CREATE INDEX chunks_terms ON chunks USING gin (terms_tsv)",
            """
            CREATE TABLE vectors (
                chunk_id bigint PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
                model_id text NOT NULL,
                dim integer NOT NULL,
                embedding vector NOT NULL
            )
            """,
            "CREATE INDEX vectors_model ON vectors(model_id)",
            """
            CREATE TABLE corpus (
                only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                chunks bigint NOT NULL,
                terms bigint NOT NULL
            )
            """,
            "INSERT INTO corpus(only_row, chunks, terms) VALUES (true, 0, 0)",
            "CREATE TABLE term_documents (term text PRIMARY KEY, documents bigint NOT NULL)",
            // Terms are upserted in sorted order so that two writers cannot deadlock on them.
            """
            CREATE FUNCTION chunks_added() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE corpus SET chunks = chunks + (SELECT count(*) FROM changed),
                                  terms = terms + (SELECT coalesce(sum(term_count), 0) FROM changed);
                INSERT INTO term_documents(term, documents)
                    SELECT u.lexeme, count(*) FROM changed, unnest(changed.terms_tsv) AS u GROUP BY u.lexeme ORDER BY u.lexeme
                    ON CONFLICT (term) DO UPDATE SET documents = term_documents.documents + excluded.documents;
                RETURN NULL;
            END $$
            """,
            """
            CREATE FUNCTION chunks_removed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE corpus SET chunks = chunks - (SELECT count(*) FROM changed),
                                  terms = terms - (SELECT coalesce(sum(term_count), 0) FROM changed);
                UPDATE term_documents t SET documents = t.documents - g.n
                    FROM (SELECT u.lexeme, count(*) AS n FROM changed, unnest(changed.terms_tsv) AS u
                          GROUP BY u.lexeme ORDER BY u.lexeme) g
                    WHERE t.term = g.lexeme;
                RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER chunks_added AFTER INSERT ON chunks REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION chunks_added()",
            "CREATE TRIGGER chunks_removed AFTER DELETE ON chunks REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION chunks_removed()",
        ],
        // Version 2: posting lists. The GIN index on `terms_tsv` served only the old query.
        [
            """
            CREATE TABLE postings (
                term text NOT NULL,
                chunk_id bigint NOT NULL,
                tf integer NOT NULL,
                chunk_terms integer NOT NULL,
                PRIMARY KEY (term, chunk_id) INCLUDE (tf, chunk_terms)
            )
            """,
            """
            INSERT INTO postings(term, chunk_id, tf, chunk_terms)
                SELECT u.lexeme, c.id, cardinality(u.positions), c.term_count FROM chunks c, unnest(c.terms_tsv) AS u
            """,
            "DROP INDEX chunks_terms",
            """
            CREATE OR REPLACE FUNCTION chunks_added() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE corpus SET chunks = chunks + (SELECT count(*) FROM changed),
                                  terms = terms + (SELECT coalesce(sum(term_count), 0) FROM changed);
                INSERT INTO term_documents(term, documents)
                    SELECT u.lexeme, count(*) FROM changed, unnest(changed.terms_tsv) AS u GROUP BY u.lexeme ORDER BY u.lexeme
                    ON CONFLICT (term) DO UPDATE SET documents = term_documents.documents + excluded.documents;
                INSERT INTO postings(term, chunk_id, tf, chunk_terms)
                    SELECT u.lexeme, changed.id, cardinality(u.positions), changed.term_count FROM changed, unnest(changed.terms_tsv) AS u;
                RETURN NULL;
            END $$
            """,
            """
            CREATE OR REPLACE FUNCTION chunks_removed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE corpus SET chunks = chunks - (SELECT count(*) FROM changed),
                                  terms = terms - (SELECT coalesce(sum(term_count), 0) FROM changed);
                UPDATE term_documents t SET documents = t.documents - g.n
                    FROM (SELECT u.lexeme, count(*) AS n FROM changed, unnest(changed.terms_tsv) AS u
                          GROUP BY u.lexeme ORDER BY u.lexeme) g
                    WHERE t.term = g.lexeme;
                DELETE FROM postings p USING (SELECT u.lexeme, changed.id FROM changed, unnest(changed.terms_tsv) AS u) AS gone
                    WHERE p.term = gone.lexeme AND p.chunk_id = gone.id;
                RETURN NULL;
            END $$
            """,
        ],
    ]

    /// Creates the schema, the `vector` extension and the tables as needed, and runs the missing
    /// migrations. Throws `IndexError.unsupportedSchema` for an index made by a newer version.
    static func migrate(_ session: PostgresSession, address: PostgresAddress, through target: Int = version) throws {
        try session.transaction {
            // One migrating process per database at a time (the key is arbitrary but fixed).
            try session.execute("SELECT pg_advisory_xact_lock(7263540001)")
            if address.schema != "public" { try session.execute("CREATE SCHEMA IF NOT EXISTS \(address.schema)") }
            // In `public`, so that dropping a test schema never drops the extension.
            try session.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
            try session.execute("CREATE TABLE IF NOT EXISTS metadata (key text PRIMARY KEY, value text NOT NULL)")
            let found = try session.rows("SELECT value FROM metadata WHERE key = 'schema_version'")
                .first.map { try $0.decode(String.self) }.flatMap(Int.init) ?? 0
            if found > version {
                throw IndexError.unsupportedSchema(path: address.description, found: found, supported: version)
            }
            for (number, statements) in migrations.enumerated() where number + 1 > found && number + 1 <= target {
                for statement in statements { try session.execute(statement) }
                try session.rows("""
                    INSERT INTO metadata(key, value) VALUES ('schema_version', \(String(number + 1)))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """)
            }
        }
    }
}
