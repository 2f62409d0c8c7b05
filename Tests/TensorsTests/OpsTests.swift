import Foundation
import Testing
import Tensors

/// Deterministic pseudo-random floats in [-scale, scale).
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    }
}

@Suite("Ops kernels against their scalar twins")
struct OpsTests {
    /// Runs `body` on each instruction-set path of the C kernels: AVX-512, AVX2 + FMA, plain C
    /// (a path the CPU lacks falls back to the next one).
    func onEveryPath(_ body: (String) -> Void) {
        body("auto")
        Kernels.forceNoAVX512(true); body("AVX2"); Kernels.forceNoAVX512(false)
        Kernels.forceGeneric(true); body("plain C"); Kernels.forceGeneric(false)
    }

    @Test("softmax's exponentials have relative error below 1e-6 over the whole float range")
    func softmaxExp() {
        // Two lanes per row: the maximum 0 and x, so the row holds e^x (x down to −87) and e^0.
        onEveryPath { path in
            var worst: Float = 0
            var x: Float = -87
            while x < 0 {
                var row: [Float] = [0, x, x * 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x, 0]
                let inverse = row.withUnsafeMutableBufferPointer { Ops.softmaxUnnormalized($0.baseAddress!, n: $0.count) }
                for (got, input) in [(row[1], x), (row[2], x * 0.5), (row[16], x)] {
                    worst = max(worst, abs(got - expf(input)) / expf(input))
                }
                let sum = row.reduce(0, +)
                worst = max(worst, abs(inverse * sum - 1))
                x += 0.0173
            }
            #expect(worst < 1e-6, "\(path): worst relative error \(worst)")
        }
    }

    @Test("biasGELU is within 5e-7 of libm's erf form, tails included")
    func biasGELU() {
        onEveryPath { path in
            var rng = SplitMix(state: 1)
            for n in [1, 7, 15, 16, 37, 1536] {
                let rows = 3
                let x = rng.floats(rows * n, scale: 6), bias = rng.floats(n)
                for withBias in [true, false] {
                    var fast = x, slow = x
                    fast.withUnsafeMutableBufferPointer { Ops.biasGELU($0.baseAddress!, bias: withBias ? bias : nil, rows: rows, n: n) }
                    slow.withUnsafeMutableBufferPointer { Ops.biasGELUReference($0.baseAddress!, bias: withBias ? bias : nil, rows: rows, n: n) }
                    let worst = zip(fast, slow).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
                    #expect(worst < 5e-7, "\(path), n = \(n), bias \(withBias): worst error \(worst)")
                }
            }
            // A dense sweep of the erf's domain (±10).
            var sweep = stride(from: Float(-10), to: 10, by: 0.0007).map { $0 }
            let want = sweep.map(Ops.geluReference)
            sweep.withUnsafeMutableBufferPointer { Ops.biasGELU($0.baseAddress!, bias: nil, rows: 1, n: $0.count) }
            let worst = zip(sweep, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst < 5e-7, "\(path): worst GELU error over ±10: \(worst)")
        }
    }

    @Test("layerNorm with bias and residual equals its Double reference")
    func layerNorm() {
        var rng = SplitMix(state: 2)
        for n in [7, 16, 33, 384] {
            let rows = 4
            let x = rng.floats(rows * n, scale: 3).map { $0 + 5 } // offset: tests the two-pass variance
            let res = rng.floats(rows * n), bias = rng.floats(n), gamma = rng.floats(n), beta = rng.floats(n)
            for withExtras in [false, true] {
                var fast = x, slow = x
                fast.withUnsafeMutableBufferPointer {
                    Ops.layerNorm($0.baseAddress!, rows: rows, n: n, gamma: gamma, beta: beta, eps: 1e-12,
                                  bias: withExtras ? bias : nil, residual: withExtras ? res : nil)
                }
                slow.withUnsafeMutableBufferPointer {
                    Ops.layerNormReference($0.baseAddress!, rows: rows, n: n, gamma: gamma, beta: beta, eps: 1e-12,
                                           bias: withExtras ? bias : nil, residual: withExtras ? res : nil)
                }
                let err = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
                #expect(err < 2e-5, "n = \(n), extras = \(withExtras), error \(err)")
            }
        }
    }

    @Test("softmax equals its reference and sums to 1")
    func softmax() {
        onEveryPath { path in
            var rng = SplitMix(state: 3)
            for n in [1, 5, 16, 17, 31, 256, 300] {
                let x = rng.floats(n, scale: 20)
                var fast = x, slow = x
                fast.withUnsafeMutableBufferPointer { Ops.softmax($0.baseAddress!, n: n) }
                slow.withUnsafeMutableBufferPointer { Ops.softmaxReference($0.baseAddress!, n: n) }
                let err = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
                #expect(err < 1e-6, "\(path), n = \(n), error \(err)")
                #expect(abs(fast.reduce(0, +) - 1) < 1e-5, "\(path), n = \(n)")
            }
        }
    }

    @Test("sgemm and sgemv match naive loops, transposes and leading dimensions included")
    func blas() {
        var rng = SplitMix(state: 4)
        let m = 5, n = 7, k = 9
        let a = rng.floats(m * k), b = rng.floats(n * k), bt = rng.floats(k * n)
        // C = A (m,k) @ Bᵀ where B is (n,k)
        var c = [Float](repeating: 0, count: m * n)
        c.withUnsafeMutableBufferPointer { BLAS.sgemm($0.baseAddress!, a: a, b: b, transB: true, m: m, n: n, k: k) }
        for i in 0..<m { for j in 0..<n {
            let want = (0..<k).reduce(Float(0)) { $0 + a[i * k + $1] * b[j * k + $1] }
            #expect(abs(c[i * n + j] - want) < 1e-5)
        } }
        // C = 0.5 · A @ Bt (k,n) + C (beta 1)
        let before = c
        c.withUnsafeMutableBufferPointer { BLAS.sgemm($0.baseAddress!, a: a, b: bt, m: m, n: n, k: k, alpha: 0.5, beta: 1) }
        for i in 0..<m { for j in 0..<n {
            let want = before[i * n + j] + 0.5 * (0..<k).reduce(Float(0)) { $0 + a[i * k + $1] * bt[$1 * n + j] }
            #expect(abs(c[i * n + j] - want) < 1e-5)
        } }
        // Sub-matrix with leading dimensions: rows of A are 2k apart, only the first k used.
        let wide = rng.floats(m * 2 * k)
        var c2 = [Float](repeating: 0, count: m * n)
        c2.withUnsafeMutableBufferPointer { BLAS.sgemm($0.baseAddress!, a: wide, lda: 2 * k, b: b, transB: true, m: m, n: n, k: k) }
        for i in 0..<m { for j in 0..<n {
            let want = (0..<k).reduce(Float(0)) { $0 + wide[i * 2 * k + $1] * b[j * k + $1] }
            #expect(abs(c2[i * n + j] - want) < 1e-5)
        } }
        // y (n,) = B (n,k) @ x (k,)
        let x = rng.floats(k)
        var y = [Float](repeating: 0, count: n)
        y.withUnsafeMutableBufferPointer { BLAS.sgemv($0.baseAddress!, a: b, x: x, m: n, n: k) }
        for j in 0..<n {
            let want = (0..<k).reduce(Float(0)) { $0 + b[j * k + $1] * x[$1] }
            #expect(abs(y[j] - want) < 1e-5)
        }
    }

    @Test("thread count is configurable")
    func threads() {
        let before = BLAS.threadCount
        #expect(before >= 1)
        BLAS.setThreadCount(1)
        #expect(BLAS.threadCount == 1)
        BLAS.setThreadCount(before)
        #expect(BLAS.threadCount == before)
        #expect(!BLAS.coreName.isEmpty)
    }

    /// OpenBLAS's own pick is replaced only when the CPU's flags allow a better kernel set (an
    /// unknown CPU model gets the SSE3 `Prescott` set from OpenBLAS 0.3.21).
    @Test("kernel set chosen from the CPU's flags")
    func kernelSetChoice() {
        let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"]
        let avx2: Set<String> = ["sse3", "avx", "avx2", "fma"]
        #expect(BLAS.kernelSet(request: "auto", current: "Prescott", cpuFlags: avx512) == "SkylakeX")
        #expect(BLAS.kernelSet(request: "auto", current: "Haswell", cpuFlags: avx512) == "SkylakeX")
        #expect(BLAS.kernelSet(request: "auto", current: "SkylakeX", cpuFlags: avx512) == nil)
        #expect(BLAS.kernelSet(request: "auto", current: "SapphireRapids", cpuFlags: avx512) == nil)
        #expect(BLAS.kernelSet(request: "auto", current: "Prescott", cpuFlags: avx2) == "Haswell")
        #expect(BLAS.kernelSet(request: "auto", current: "Zen", cpuFlags: avx2) == nil)
        #expect(BLAS.kernelSet(request: "auto", current: "Prescott", cpuFlags: ["sse3"]) == nil)
        #expect(BLAS.kernelSet(request: "keep", current: "Prescott", cpuFlags: avx512) == nil)
        #expect(BLAS.kernelSet(request: "Haswell", current: "SkylakeX", cpuFlags: avx512) == "Haswell")
        #expect(BLAS.kernelSet(request: "haswell", current: "Haswell", cpuFlags: avx2) == nil)
    }
}
