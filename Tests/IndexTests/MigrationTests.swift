import Foundation
import GRDB
import Index
import Testing

/// An index written by the first version (schema 1, keyword search only, no vectors) opens,
/// upgrades, keeps its passages searchable, and gets vectors on the next ingest.
@Suite("Index migration")
struct MigrationTests {
    /// The schema-1 tables exactly as the first release created them, with one document.
    static func writeVersion1Index(at path: String, passage: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('v1');
                CREATE TABLE metadata (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE documents (
                    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
                    mtime REAL NOT NULL, pages INTEGER NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('indexed', 'failed')), error TEXT,
                    chunking TEXT NOT NULL, indexed_at REAL NOT NULL);
                CREATE TABLE chunks (
                    id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                    ordinal INTEGER NOT NULL, page INTEGER, start_offset INTEGER NOT NULL, end_offset INTEGER NOT NULL,
                    text TEXT NOT NULL, UNIQUE (document_id, ordinal));
                CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content = 'chunks', content_rowid = 'id',
                    tokenize = 'unicode61 remove_diacritics 2');
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
                    model_id TEXT NOT NULL, dim INTEGER NOT NULL, data BLOB NOT NULL);
                CREATE INDEX vectors_model ON vectors(model_id);
                INSERT INTO metadata(key, value) VALUES ('schema_version', '1');
                INSERT INTO documents VALUES (1, 'old.txt', 'x', 10, 0, 1, 'indexed', NULL, 'old', 0);
                """)
            try db.execute(sql: "INSERT INTO chunks VALUES (1, 1, 0, NULL, 0, ?, ?)",
                           arguments: [passage.count, passage])
        }
    }

    @Test func version1IndexUpgradesAndGetsVectors() async throws {
        let workspace = try Workspace()
        defer { workspace.cleanup() }
        let passage = "La tarte Tatin se cuit à l'envers, les pommes caramélisées dessous."
        try workspace.write("old.txt", passage)
        try Self.writeVersion1Index(at: workspace.indexPath, passage: passage)

        let store = try workspace.open()
        var statistics = try store.statistics()
        #expect(statistics.schemaVersion == 4)
        #expect(statistics.chunks == 1 && statistics.vectors == 0)
        // Still searchable by keywords before any re-ingest; hybrid falls back to keywords.
        let embedder = FakeEmbedder()
        #expect(try store.search("tatin", k: 3).first?.file == "old.txt")
        let fallback = try store.search("tatin", mode: .hybrid, embedder: embedder, k: 3)
        #expect(fallback.first?.file == "old.txt" && fallback.first?.denseScore == nil)
        #expect(throws: IndexError.self) { try store.search("tatin", mode: .dense, embedder: embedder, k: 3) }

        _ = try await store.ingest(dataDirectory: workspace.data, embedder: embedder)
        statistics = try store.statistics()
        #expect(statistics.vectors == statistics.chunks && statistics.chunks > 0)
        #expect(statistics.encoderModelID == embedder.modelID)
        let hybrid = try store.search("tarte caramélisée", mode: .hybrid, embedder: embedder, k: 3)
        #expect(hybrid.first?.file == "old.txt" && hybrid.first?.denseScore != nil && hybrid.first?.bm25Score != nil)
    }
}
