import GRDB

/// Tables (schema version 1):
/// - `metadata(key, value)`: `schema_version`, `encoder_model_id`, `encoder_dimension`;
/// - `documents(id, path, sha256, size, mtime, pages, status, error, chunking, indexed_at)`:
///   `path` is relative to the data directory, `status` is `indexed` or `failed` (with `error`),
///   `chunking` records the chunker settings and extractor version the chunks were made with;
/// - `chunks(id, document_id, ordinal, page, start_offset, end_offset, text)`;
/// - `chunks_fts`: FTS5 over `chunks.text` (external content, kept in sync by triggers),
///   tokenizer `unicode61 remove_diacritics 2`;
/// - `vectors(chunk_id, model_id, dim, data)`: float32 little-endian blobs.
/// Version 2 adds `chunks_vocab`, an `fts5vocab` view of the terms (document frequencies).
/// Version 3 adds French keyword terms: `chunks.terms` (the chunk's `KeywordAnalyzer` terms,
/// space-separated), `terms_fts` (FTS5 over them: what BM25 ranks) and `terms_vocab` (their
/// document frequencies); `metadata.analyzer` names the analysis they were made with
/// (`SQLiteIndexStore.open` re-analyses every chunk when it differs).
/// Version 4 adds `chunks.context` (file name, title and section heading of the chunk, see
/// `Chunk.context`), embedded and keyword-indexed with the text; documents chunked before it are
/// re-chunked on the next ingest (the extractor version in `documents.chunking` changed).
enum Schema {
    static let version = 4

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE metadata (
                    key TEXT PRIMARY KEY NOT NULL,
                    value TEXT NOT NULL
                );
                CREATE TABLE documents (
                    id INTEGER PRIMARY KEY,
                    path TEXT NOT NULL UNIQUE,
                    sha256 TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    mtime REAL NOT NULL,
                    pages INTEGER NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('indexed', 'failed')),
                    error TEXT,
                    chunking TEXT NOT NULL,
                    indexed_at REAL NOT NULL
                );
                CREATE TABLE chunks (
                    id INTEGER PRIMARY KEY,
                    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                    ordinal INTEGER NOT NULL,
                    page INTEGER,
                    start_offset INTEGER NOT NULL,
                    end_offset INTEGER NOT NULL,
                    text TEXT NOT NULL,
                    UNIQUE (document_id, ordinal)
                );
                CREATE VIRTUAL TABLE chunks_fts USING fts5(
                    text, content = 'chunks', content_rowid = 'id',
                    tokenize = 'unicode61 remove_diacritics 2'
                );
                CREATE TRIGGER chunks_after_insert AFTER INSERT ON chunks BEGIN
                    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
                END;
                CREATE TRIGGER chunks_after_delete AFTER DELETE ON chunks BEGIN
                    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
                END;
                CREATE TRIGGER chunks_after_update AFTER UPDATE OF text ON chunks BEGIN
                    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
                    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
                END;
                CREATE TABLE vectors (
                    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
                    model_id TEXT NOT NULL,
                    dim INTEGER NOT NULL,
                    data BLOB NOT NULL
                );
                CREATE INDEX vectors_model ON vectors(model_id);
                INSERT INTO metadata(key, value) VALUES ('schema_version', '1');
                """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, row);
                UPDATE metadata SET value = '2' WHERE key = 'schema_version';
                """)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                ALTER TABLE chunks ADD COLUMN terms TEXT NOT NULL DEFAULT '';
                CREATE VIRTUAL TABLE terms_fts USING fts5(
                    terms, content = 'chunks', content_rowid = 'id',
                    tokenize = "unicode61 remove_diacritics 0 tokenchars '_'"
                );
                CREATE VIRTUAL TABLE terms_vocab USING fts5vocab(terms_fts, row);
                INSERT INTO terms_fts(terms_fts) VALUES ('rebuild');
                CREATE TRIGGER chunks_terms_after_insert AFTER INSERT ON chunks BEGIN
                    INSERT INTO terms_fts(rowid, terms) VALUES (new.id, new.terms);
                END;
                CREATE TRIGGER chunks_terms_after_delete AFTER DELETE ON chunks BEGIN
                    INSERT INTO terms_fts(terms_fts, rowid, terms) VALUES ('delete', old.id, old.terms);
                END;
                CREATE TRIGGER chunks_terms_after_update AFTER UPDATE OF terms ON chunks BEGIN
                    INSERT INTO terms_fts(terms_fts, rowid, terms) VALUES ('delete', old.id, old.terms);
                    INSERT INTO terms_fts(rowid, terms) VALUES (new.id, new.terms);
                END;
                UPDATE metadata SET value = '3' WHERE key = 'schema_version';
                """)
            // The terms of chunks written before this version are filled by `reanalyse`.
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: """
                ALTER TABLE chunks ADD COLUMN context TEXT NOT NULL DEFAULT '';
                UPDATE metadata SET value = '4' WHERE key = 'schema_version';
                """)
        }
        return migrator
    }
}
