import Documents
import Foundation

/// Lists the documents of a data directory.
public enum DataDirectory {
    /// Throws `dataDirectoryNotFound` unless `root` is a directory.
    public static func requireExists(_ root: URL) throws(IndexError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .dataDirectoryNotFound(path: root.path)
        }
    }

    struct File: Sendable, Hashable {
        /// Relative to the data directory, `/`-separated.
        var path: String
        var url: URL
    }

    struct Stat: Sendable {
        var size: Int64
        var mtime: Double
    }

    /// Supported files (`.txt`, `.md`, `.pdf`), recursively, sorted by path; hidden files and
    /// directories skipped; symbolic links followed (each directory visited once).
    static func scan(_ root: URL) throws -> (files: [File], failures: [IngestFailure]) {
        let manager = FileManager.default
        try requireExists(root)
        var files: [File] = []
        var failures: [IngestFailure] = []
        var visited: Set<String> = []

        func walk(_ directory: URL, relative: String) {
            guard visited.insert(directory.resolvingSymlinksInPath().path).inserted else { return }
            let names: [String]
            do {
                names = try manager.contentsOfDirectory(atPath: directory.path)
            } catch {
                failures.append(IngestFailure(path: relative.isEmpty ? "." : relative,
                                              reason: "cannot list directory: permission denied or unreadable"))
                return
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                let url = directory.appendingPathComponent(name)
                let path = relative.isEmpty ? name : relative + "/" + name
                var isDirectory: ObjCBool = false
                guard manager.fileExists(atPath: url.path, isDirectory: &isDirectory) else { continue } // dangling link
                if isDirectory.boolValue {
                    walk(url, relative: path)
                } else if DocumentKind(path: name) != nil {
                    files.append(File(path: path, url: url))
                }
            }
        }
        walk(root, relative: "")
        files.sort { $0.path < $1.path }
        return (files, failures)
    }

    static func stat(_ file: File) throws(DocumentsError) -> Stat {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: file.url.resolvingSymlinksInPath().path)
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
            let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return Stat(size: size, mtime: mtime)
        } catch {
            throw .unreadable(path: file.path, reason: "cannot read its attributes")
        }
    }
}
