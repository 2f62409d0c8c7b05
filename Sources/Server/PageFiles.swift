import Foundation
import Hummingbird
#if canImport(Glibc)
import Glibc
#endif

/// The files of the page folder (`web/`), and nothing else: the `FileProvider` behind
/// Hummingbird's `FileMiddleware` (which keeps content types, `ETag`/`Last-Modified`, 304s,
/// ranges, HEAD and `index.html` for folders). A path is served only when every component is a
/// plain name (no `.`, `..`, dotfile, backslash, NUL or `%`), and its resolved location
/// (`realpath`, symbolic links followed) is a regular file or folder inside the folder's own
/// resolved location, itself made of plain names. Anything else is "not found".
struct PageFolder: FileProvider {
    struct FileAttributes: FileMiddlewareFileAttributes, Sendable {
        var isFolder: Bool
        var size: Int
        var modificationDate: Date
    }

    /// The resolved absolute path of a file or folder inside the page folder.
    typealias FileIdentifier = String

    let root: String
    let fileIO = FileIO()

    /// The resolved path for URL path `path` (percent-decoded), nil when it must not be served.
    func getFileIdentifier(_ path: String) -> String? {
        guard Self.isPlain(decodedPath: path), let realRoot = Self.realPath(root) else { return nil }
        let relative = path.split(separator: "/").joined(separator: "/")
        let candidate = relative.isEmpty ? realRoot : realRoot + "/" + relative
        guard let resolved = Self.realPath(candidate) else { return nil }
        if resolved == realRoot { return resolved }
        let prefix = realRoot.hasSuffix("/") ? realRoot : realRoot + "/"
        // Inside the folder, and not a dotfile reached through a link (`page.txt -> .env`).
        guard resolved.hasPrefix(prefix), Self.isPlain(decodedPath: "/" + resolved.dropFirst(prefix.count)) else { return nil }
        return resolved
    }

    func getAttributes(id path: String) async throws -> FileAttributes? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFREG || kind == S_IFDIR else { return nil }   // no devices, FIFOs, sockets
        return FileAttributes(isFolder: kind == S_IFDIR, size: Int(info.st_size),
                              modificationDate: Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec)))
    }

    func loadFile(id path: String, context: some RequestContext) async throws -> ResponseBody {
        try await fileIO.loadFile(path: path, context: context)
    }

    func loadFile(id path: String, range: ClosedRange<Int>, context: some RequestContext) async throws -> ResponseBody {
        try await fileIO.loadFile(path: path, range: range, context: context)
    }

    /// True when a request path (as sent, percent-encoded) may name a page file: it decodes, it
    /// has no encoded separator or NUL (`%2f`, `%5c`, `%00`), and its decoded form is plain.
    static func isPlain(rawPath: String) -> Bool {
        // Most paths have no escape at all: one pass over the bytes, no decoding.
        guard rawPath.utf8.contains(UInt8(ascii: "%")) else { return isPlain(decodedPath: rawPath) }
        let lowered = rawPath.lowercased()
        guard !["%2f", "%5c", "%00"].contains(where: lowered.contains),
              let decoded = rawPath.removingPercentEncoding else { return false }
        return isPlain(decodedPath: decoded)
    }

    /// True when a decoded path starts with `/` and each component is a plain name: not empty
    /// (but for a trailing `/`), no leading dot (`.`, `..`, dotfiles), no backslash, `%`, NUL or
    /// other control character.
    static func isPlain(decodedPath path: String) -> Bool {
        var previous: UInt8 = 0   // the byte before, "/" at a component's start
        var first = true
        for byte in path.utf8 {
            if first {
                guard byte == UInt8(ascii: "/") else { return false }
                first = false
                previous = byte
                continue
            }
            switch byte {
            case UInt8(ascii: "/") where previous == UInt8(ascii: "/"): return false        // an empty component
            case UInt8(ascii: ".") where previous == UInt8(ascii: "/"): return false        // ".", "..", a dotfile
            case UInt8(ascii: "\\"), UInt8(ascii: "%"), 0..<0x20, 0x7F: return false
            default: break
            }
            previous = byte
        }
        return !first
    }

    /// `realpath(3)`: absolute, symbolic links resolved; nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// True when `rawPath` names a page file (a regular file, or a folder with `index.html`): the
    /// API middleware answers 405 rather than 404 for other methods on it.
    func serves(rawPath: String) -> Bool {
        guard Self.isPlain(rawPath: rawPath), let decoded = rawPath.removingPercentEncoding,
              let resolved = getFileIdentifier(decoded) else { return false }
        var info = stat()
        guard stat(resolved, &info) == 0 else { return false }
        if info.st_mode & S_IFMT == S_IFREG { return true }
        guard info.st_mode & S_IFMT == S_IFDIR, let index = getFileIdentifier(decoded.hasSuffix("/") ? decoded + "index.html" : decoded + "/index.html"),
              stat(index, &info) == 0 else { return false }
        return info.st_mode & S_IFMT == S_IFREG
    }
}

/// Answers 404 at once for a request path that could not name a page file nor a route
/// (encoded separators, NUL, dot components, backslashes): `FileMiddleware` then only sees
/// plain paths.
/// Hummingbird's file middleware for the page's files only: API routes (`/audio/<id>.wav`
/// among them) go straight to their handlers, so that a clip id the file middleware would
/// refuse (`0..0`) gets the route's own 404.
struct PageFilesMiddleware<Context: RequestContext>: RouterMiddleware {
    let files: FileMiddleware<Context, PageFolder>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if RouteTable.allowed(path: request.uri.path) != nil { return try await next(request, context) }
        return try await files.handle(request, context: context, next: next)
    }
}

struct PlainPathMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard PageFolder.isPlain(rawPath: request.uri.path) else { throw APIError.notFound("no such file") }
        return try await next(request, context)
    }
}
