// BLAS — thin wrappers over OpenBLAS (`cblas_sgemm`, `cblas_sgemv`) plus thread configuration.
//
// Row-major everywhere. Shapes are written `(rows, cols)`; a PyTorch `Linear` weight is
// `(out, in)`, so `y = x @ Wᵀ` is `sgemm(c, a: x, b: W, transB: true)`.
//
// Threads: `BLAS.configure()` runs once before the first call (implicitly from every wrapper):
// it sets OpenBLAS's thread count from `RAGCHAT_THREADS` (or the number of cores).
//
// Kernels: a DYNAMIC_ARCH OpenBLAS picks its kernel set when the library loads, from the CPU's
// family and model numbers. A CPU newer than the library (Debian's is 0.3.21), or a virtual CPU
// reporting a model it does not know, gets a set below what the CPU can run: seen here, AVX2-era
// sets on AVX-512 machines and even the SSE3 one (`Prescott`) on an AVX-512 Xeon, where sgemm
// runs far slower (e5 ingest 14 against 18 chunks/s). `configure()` therefore re-selects the set
// from the CPU's own feature flags — SkylakeX with AVX-512, Haswell with AVX2 + FMA — when the
// current one is below that, through OpenBLAS's own `gotoblas_dynamic_quit`/`gotoblas_dynamic_init`
// (the path `OPENBLAS_CORETYPE` takes at load time). `RAGCHAT_BLAS_CORETYPE` controls this: unset
// or `auto` = upgrade as described, `keep` = leave OpenBLAS's choice alone, any other value =
// that OpenBLAS kernel set name (e.g. `Haswell`, `SkylakeX`).

import COpenBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

public enum BLAS {
    private static let setup: Void = {
        upgradeKernelsIfNeeded()
        openblas_set_num_threads(Int32(defaultThreadCount))
    }()

    /// Thread count from `RAGCHAT_THREADS`, or the number of active cores.
    public static var defaultThreadCount: Int {
        let env = ProcessInfo.processInfo.environment["RAGCHAT_THREADS"].flatMap { Int($0) }
        return max(1, env ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Reads `RAGCHAT_THREADS` (default: number of active cores), sets OpenBLAS's thread count
    /// and upgrades the kernel set when OpenBLAS under-detected the CPU. Runs once; every
    /// wrapper calls it, so calling it explicitly is only needed before using OpenBLAS directly.
    @inline(__always)
    public static func configure() { _ = setup }

    /// Current OpenBLAS thread count.
    public static var threadCount: Int {
        configure()
        return Int(openblas_get_num_threads())
    }

    /// Sets the OpenBLAS thread count (≥ 1) for all later calls.
    public static func setThreadCount(_ n: Int) {
        configure()
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// Name of the kernel set OpenBLAS uses ("SkylakeX", "Haswell", …).
    public static var coreName: String {
        configure()
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    // C (m,n) = alpha · op(A) (m,k) @ op(B) (k,n) + beta · C
    // op(A) = A (m,k) with leading dimension lda, or Aᵀ when transA (A stored (k,m)).
    // op(B) = B (k,n) with leading dimension ldb, or Bᵀ when transB (B stored (n,k)).
    @inline(__always)
    public static func sgemm(_ c: UnsafeMutablePointer<Float>, ldc: Int? = nil,
                             a: UnsafePointer<Float>, lda: Int? = nil, transA: Bool = false,
                             b: UnsafePointer<Float>, ldb: Int? = nil, transB: Bool = false,
                             m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0) {
        configure()
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    // y (m,) = alpha · A (m,n) @ x (n,) + beta · y        (transA: Aᵀ (n,m)ᵀ… i.e. y (n,) = Aᵀ @ x (m,))
    @inline(__always)
    public static func sgemv(_ y: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, lda: Int? = nil,
                             transA: Bool = false, x: UnsafePointer<Float>, m: Int, n: Int,
                             alpha: Float = 1, beta: Float = 0) {
        configure()
        cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha,
                    a, Int32(lda ?? n), x, 1, beta, y, 1)
    }

    // MARK: - Kernel selection

    private static func upgradeKernelsIfNeeded() {
        let request = ProcessInfo.processInfo.environment["RAGCHAT_BLAS_CORETYPE"] ?? "auto"
        guard let p = openblas_get_corename(),
              let target = kernelSet(request: request, current: String(cString: p), cpuFlags: cpuFlags()) else { return }
        guard let quit = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "gotoblas_dynamic_quit"),
              let initialize = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "gotoblas_dynamic_init") else { return }
        typealias Fn = @convention(c) () -> Void
        let previous = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        setenv("OPENBLAS_CORETYPE", target, 1)
        unsafeBitCast(quit, to: Fn.self)()
        unsafeBitCast(initialize, to: Fn.self)()
        if let previous { setenv("OPENBLAS_CORETYPE", previous, 1) } else { unsetenv("OPENBLAS_CORETYPE") }
    }

    /// The kernel set to switch to, or `nil` to keep `current`: `request` is
    /// `RAGCHAT_BLAS_CORETYPE` (`auto`, `keep` or a set's name); `auto` picks SkylakeX on a CPU
    /// with AVX-512 and Haswell on one with AVX2 + FMA, when `current` is a lesser set.
    package static func kernelSet(request: String, current: String, cpuFlags flags: Set<String>) -> String? {
        switch request.lowercased() {
        case "keep":
            return nil
        case "auto":
            let avx512Sets: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]
            let avx2Sets = avx512Sets.union(["haswell", "zen"])
            if ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"].allSatisfy(flags.contains) {
                return avx512Sets.contains(current.lowercased()) ? nil : "SkylakeX"
            }
            if ["avx2", "fma"].allSatisfy(flags.contains) {
                return avx2Sets.contains(current.lowercased()) ? nil : "Haswell"
            }
            return nil
        default:
            return request.lowercased() == current.lowercased() ? nil : request
        }
    }

    private static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }
}
