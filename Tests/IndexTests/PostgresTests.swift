import Documents
import Foundation
import Index
import Synchronization
import Testing
import TextAnalysis

/// What only the PostgreSQL implementation has: a server to reach, several processes on one
/// index, keyword ranking equal to SQLite's by construction. The contract cases run on it through
/// `IndexImplementation.all`.
@Suite("PostgreSQL index", .enabled(if: PostgresTestServer.url != nil || ProcessInfo.processInfo.environment["CI"] != nil))
struct PostgresIndexTests {
    /// In CI the server must be there (`make test` starts it): otherwise the contract would
    /// silently run on SQLite alone.
    @Test func theTestServerIsThere() throws {
        let url = try #require(PostgresTestServer.url, "no PostgreSQL test server (scripts/postgres.sh start)")
        let workspace = try Workspace(.postgres)
        defer { workspace.cleanup() }
        let store = try workspace.open()
        #expect(try store.statistics().schemaVersion >= 1)
        let password = try #require(URLComponents(string: url)?.password)
        #expect(!store.location.contains(":\(password)@"))  // no password in messages
    }

    /// A wrong password, database or port is named at start-up, not at the first question.
    @Test func wrongAddressesAreNamed() throws {
        let url = try #require(PostgresTestServer.url)
        var components = try #require(URLComponents(string: url))
        components.password = "not-the-password"
        #expect {
            try PostgresIndexStore.open(url: try #require(components.string))
        } throws: { error in
            guard case IndexError.unavailable(_, let reason) = error else { return false }
            return reason.contains("password authentication failed")
        }
        components = try #require(URLComponents(string: url))
        components.path = "/no_such_database"
        #expect {
            try PostgresIndexStore.open(url: try #require(components.string))
        } throws: { error in
            guard case IndexError.unavailable(_, let reason) = error else { return false }
            return reason.contains("no_such_database")
        }
        components = try #require(URLComponents(string: url))
        components.port = 1  // nothing listens there
        #expect {
            try PostgresIndexStore.open(url: try #require(components.string))
        } throws: { error in
            guard case IndexError.unavailable = error else { return false }
            return true
        }
        #expect(throws: IndexError.self) { try PostgresIndexStore.open(url: "postgres://127.0.0.1/ragchat") }  // no user
        #expect(throws: IndexError.self) { try PostgresIndexStore.open(url: url + "?schema=x;drop") }
        #expect(throws: IndexError.self) { try PostgresIndexStore.open(url: url + "?reply_timeout=soon") }
        #expect(try PostgresAddress(url: url + "?reply_timeout=0").replyTimeout == nil)
        #expect(try PostgresAddress(url: url).replyTimeout == .seconds(300))
    }

    /// libpq's `sslmode` against a server without TLS (the bundled one is built without SSL):
    /// `prefer` (the default), `allow` and `disable` connect unencrypted; `require`, `verify-ca` and
    /// `verify-full` refuse to connect, saying the server does not offer TLS; a wrong mode or a
    /// missing root file is named before any connection.
    @Test func tlsModesAgainstAServerWithoutTLS() throws {
        let url = try #require(PostgresTestServer.url)
        let workspace = try Workspace(.postgres)
        defer { workspace.cleanup() }
        let address = PostgresTestServer.address(url, of: workspace)
        for mode in ["", "&sslmode=disable", "&sslmode=allow", "&sslmode=prefer"] {
            let store = try PostgresIndexStore.open(url: address + mode)
            #expect(try store.isEncrypted() == false, "\(mode)")
            store.close()
        }
        for mode in ["require", "verify-ca", "verify-full"] {
            #expect {
                try PostgresIndexStore.open(url: address + "&sslmode=" + mode)
            } throws: { error in
                guard case IndexError.unavailable(_, let reason) = error else { return false }
                return reason.contains("TLS")
            }
        }
        #expect {
            try PostgresIndexStore.open(url: address + "&sslmode=require&sslrootcert=/no/such/roots.pem")
        } throws: { error in
            "\(error)".contains("/no/such/roots.pem")
        }
        #expect {
            try PostgresIndexStore.open(url: address + "&sslmode=sometimes")
        } throws: { error in
            "\(error)".contains("verify-full")
        }
    }

    @Test func aDatabaseWithoutAnIndexIsNotFoundWhenServing() throws {
        let url = try #require(PostgresTestServer.url)
        let workspace = try Workspace(.postgres)
        defer { workspace.cleanup() }
        let address = url + "?schema=" + PostgresTestServer.schema(of: workspace)
        #expect(throws: IndexError.indexNotFound(path: try PostgresAddress(url: address).description)) {
            try openIndexStore(at: address, create: false)
        }
        _ = try openIndexStore(at: address, create: true)
        #expect(try openIndexStore(at: address, create: false) is PostgresIndexStore)
    }

    /// Two servers on one index: what one ingests, the other finds at its next query.
    @Test func aSecondServerSeesNewDocumentsWithoutRestart() async throws {
        let workspace = try Workspace(.postgres)
        defer { workspace.cleanup() }
        let embedder = FakeEmbedder()
        let first = try workspace.open()
        let second = try workspace.open()
        try workspace.write("tarte.txt", Samples.tarte)
        _ = try await first.ingest(dataDirectory: workspace.data, embedder: embedder)
        #expect(try second.search("Tatin", k: 5).map(\.file) == ["tarte.txt"])
        try workspace.write("secrets.txt", Samples.secrets)
        _ = try await first.ingest(dataDirectory: workspace.data, embedder: embedder)
        let question = "réfrigérateur fourchette"
        for mode in SearchMode.allCases {
            let hits = try second.search(question, mode: mode, embedder: embedder, k: 3)
            #expect(hits.first?.file == "secrets.txt", "\(mode)")
            #expect(hits == (try first.search(question, mode: mode, embedder: embedder, k: 3)), "\(mode)")
        }
    }

    /// The server dropping every connection (as a restart does) costs no query: a reused
    /// connection found dead is replaced and the read runs again; then ingest works as well.
    @Test func droppedConnectionsAreReplaced() async throws {
        let url = try #require(PostgresTestServer.url)
        let workspace = try Workspace(.postgres)
        defer { workspace.cleanup() }
        try workspace.write("tarte.txt", Samples.tarte)
        let store = try workspace.open()
        _ = try await store.ingest(dataDirectory: workspace.data)
        #expect(try store.search("Tatin", k: 1).count == 1)  // leaves an idle connection
        let schema = PostgresTestServer.schema(of: workspace)
        let admin = try PostgresIndexStore.open(url: url + "?schema=" + schema + "_admin")
        defer { try? admin.drop() }
        let ended = try admin.terminateSessions(applicationName: "ragchat:" + schema)
        #expect(ended >= 1)
        #expect(try store.search("Tatin", k: 1).first?.file == "tarte.txt")
        try workspace.write("secrets.txt", Samples.secrets)
        #expect(try await store.ingest(dataDirectory: workspace.data).added == 1)
    }

    /// A statement that gets no reply (here: blocked behind another session's table lock) fails
    /// after `reply_timeout` with a message that says so, once retried, instead of waiting
    /// forever; once the lock is gone the same store answers again.
    @Test func aStalledStatementFailsAfterTheReplyTimeout() async throws {
        let url = try #require(PostgresTestServer.url)
        let workspace = try Workspace(.postgres)
        defer { workspace.cleanup() }
        try workspace.write("tarte.txt", Samples.tarte)
        let schema = PostgresTestServer.schema(of: workspace)
        _ = try await workspace.open().ingest(dataDirectory: workspace.data)
        let impatient = try PostgresIndexStore.open(url: url + "?schema=\(schema)&reply_timeout=1")
        #expect(try impatient.search("Tatin", k: 1).count == 1)
        let locker = try PostgresIndexStore.open(url: url + "?schema=\(schema)")
        // A thread of its own: the cooperative pool may be busy with other tests' blocking calls.
        let released = Mutex<Result<Void, any Error>?>(nil)
        Thread.detachNewThread {
            let result = Result { try locker.execute("DO $$ BEGIN LOCK TABLE \(schema).chunks IN ACCESS EXCLUSIVE MODE; PERFORM pg_sleep(8); END $$") }
            released.withLock { $0 = result }
        }
        // Until the lock is held (the statement fails while it is not).
        let watcher = try PostgresIndexStore.open(url: url + "?schema=\(schema)")
        let held = """
            DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE c.relname = 'chunks' AND c.relnamespace = '\(schema)'::regnamespace
                  AND l.mode = 'AccessExclusiveLock' AND l.granted) THEN RAISE EXCEPTION 'not held yet'; END IF; END $$
            """
        let waitLimit = Date().addingTimeInterval(6)
        while (try? watcher.execute(held)) == nil, Date() < waitLimit { try await Task.sleep(for: .milliseconds(50)) }
        try watcher.execute(held)
        let clock = ContinuousClock()
        let started = clock.now
        #expect {
            try impatient.search("Tatin", k: 1)
        } throws: { error in
            guard case IndexError.unavailable(_, let reason) = error else { return false }
            return reason.contains("reply_timeout")
        }
        #expect(clock.now - started < .seconds(5))  // two tries of about 1 s, not the lock's 8 s
        while released.withLock({ $0 == nil }) { try await Task.sleep(for: .milliseconds(100)) }
        try released.withLock { try $0?.get() }
        #expect(try impatient.search("Tatin", k: 1).first?.file == "tarte.txt")
    }

    /// An index made at schema version 1 (keyword search over a GIN-indexed `tsvector`, no posting
    /// lists) is upgraded when opened: its posting lists are built from the stored terms, and it
    /// ranks as an index made at the current version, and keeps its posting lists right through
    /// later ingests.
    @Test func aVersion1IndexIsUpgraded() async throws {
        let url = try #require(PostgresTestServer.url)
        let old = try Workspace(.postgres)
        let new = try Workspace(.postgres)
        defer { old.cleanup(); new.cleanup() }
        for workspace in [old, new] {
            try workspace.write("tarte.txt", Samples.tarte)
            try workspace.write("secrets.txt", Samples.secrets)
        }
        let version1 = try PostgresIndexStore.open(url: PostgresTestServer.address(url, of: old), schemaVersion: 1)
        #expect(try version1.statistics().schemaVersion == 1)
        _ = try await version1.ingest(dataDirectory: old.data)
        // Terms of the current analyser: the upgrade alone builds the posting lists.
        try version1.execute("INSERT INTO metadata(key, value) VALUES ('analyzer', '\(KeywordAnalyzer.version)')")
        version1.close()
        var upgraded = try old.open()
        #expect(try upgraded.statistics().schemaVersion == 2)
        try upgraded.checkIntegrity()
        let current = try new.open()
        _ = try await current.ingest(dataDirectory: new.data)
        let questions = ["pâte brisée", "réfrigérateur", "tarte Tatin renversée", "beurre"]
        func rankingsAgree() throws {
            for question in questions {
                let expected = try current.search(question, k: 5)
                #expect(!expected.isEmpty)
                #expect(try upgraded.search(question, k: 5).map { [$0.file, "\($0.ordinal)", "\($0.score)"] }
                        == expected.map { [$0.file, "\($0.ordinal)", "\($0.score)"] }, "\(question)")
            }
        }
        try rankingsAgree()
        // Terms of another analyser version: re-analysed at the next opening, posting lists too.
        let admin = try PostgresIndexStore.open(url: PostgresTestServer.address(url, of: old))
        try admin.execute("UPDATE metadata SET value = 'older' WHERE key = 'analyzer'")
        try admin.execute("UPDATE chunks SET terms = '', term_count = 0, terms_tsv = ''::tsvector")
        admin.close()
        upgraded = try old.open()
        try upgraded.checkIntegrity()
        try rankingsAgree()
        try old.remove("secrets.txt")
        try old.write("pates.txt", "La pâte brisée ne contient pas de sucre ; la pâte sablée en contient.")
        _ = try await upgraded.ingest(dataDirectory: old.data)
        try upgraded.checkIntegrity()
        #expect(try upgraded.search("sablée", k: 1).first?.file == "pates.txt")
    }

    /// Two ingests of the same folder at once (two machines): the advisory lock runs them one
    /// after the other, so no chunk is written twice or lost.
    @Test func concurrentIngestsDoNotDuplicateChunks() async throws {
        let workspace = try Workspace(.postgres)
        defer { workspace.cleanup() }
        for number in 0..<12 { try workspace.write("f\(number).txt", "Fichier \(number). " + Samples.tarte) }
        let first = try workspace.open()
        let second = try workspace.open()
        async let a = first.ingest(dataDirectory: workspace.data, embedder: FakeEmbedder())
        async let b = second.ingest(dataDirectory: workspace.data, embedder: FakeEmbedder())
        let (one, two) = try await (a, b)
        #expect(one.added + two.added == 12 && one.unchanged + two.unchanged == 12)
        let statistics = try first.statistics()
        #expect(statistics.documents == 12)
        #expect(statistics.chunks == one.chunks + two.chunks && statistics.vectors == statistics.chunks)
        try first.checkIntegrity()
    }

    /// The same documents in SQLite and PostgreSQL give the same keyword ranking and BM25 scores
    /// (the same analysis and formula), the same dense scores, the same best passage in every mode
    /// and the same relevance signals. (The order of equal cosines, frequent with the bag-of-words
    /// test encoder, may differ below the first place: pgvector computes them in its own float order.)
    @Test func keywordRankingEqualsSQLite() async throws {
        let sqliteSpace = try Workspace(.sqlite)
        let postgresSpace = try Workspace(.postgres)
        defer { sqliteSpace.cleanup(); postgresSpace.cleanup() }
        let texts = [
            "tarte.txt": Samples.tarte, "secrets.txt": Samples.secrets,
            "pates.txt": "La pâte brisée ne contient pas de sucre ; la pâte sablée en contient. PÂTE FEUILLETÉE : beurre en couches.",
            "options.md": "Lancer `ragchat serve --index models/index.sqlite` ; l'option --top-k règle le nombre de passages.",
        ]
        for (name, text) in texts {
            try sqliteSpace.write(name, text)
            try postgresSpace.write(name, text)
        }
        let embedder = FakeEmbedder(dimension: 64)
        let sqlite = try sqliteSpace.open(), postgres = try postgresSpace.open()
        let options = IngestOptions(chunking: ChunkingOptions(targetSize: 150, overlap: 30))
        _ = try await sqlite.ingest(dataDirectory: sqliteSpace.data, options: options, embedder: embedder)
        _ = try await postgres.ingest(dataDirectory: postgresSpace.data, options: options, embedder: embedder)
        for query in ["pâte brisée", "tarte aux pommes", "Quel est le secret d'une bonne tarte ?", "--top-k", "beurre sucre four", "xyz"] {
            let expected = try sqlite.search(query, k: 10), found = try postgres.search(query, k: 10)
            #expect(found.map(\.file) == expected.map(\.file) && found.map(\.ordinal) == expected.map(\.ordinal), "\(query)")
            for (a, b) in zip(found, expected) { #expect(abs(a.score - b.score) < 1e-6 * max(1, abs(b.score)), "\(query)") }
            for mode in SearchMode.allCases {
                let x = try sqlite.search(query, mode: mode, embedder: embedder, k: 5)
                let y = try postgres.search(query, mode: mode, embedder: embedder, k: 5)
                #expect(x.first?.text == y.first?.text && x.count == y.count, "\(mode) \(query)")
                if mode == .dense {
                    #expect(zip(x, y).allSatisfy { abs($0.score - $1.score) < 1e-5 }, "\(query)")
                }
            }
            let s = try sqlite.relevance(query, vector: try embedder.embed(query: query), modelID: embedder.modelID)
            let p = try postgres.relevance(query, vector: try embedder.embed(query: query), modelID: embedder.modelID)
            #expect(abs(s.keywordCoverage - p.keywordCoverage) < 1e-9 && s.unknownTerms == p.unknownTerms && s.queryTerms == p.queryTerms)
            #expect(abs((s.bestCosine ?? -9) - (p.bestCosine ?? -9)) < 1e-5, "\(query)")
        }
    }
}
