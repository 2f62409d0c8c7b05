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
    @Test("vector exp has relative error below 1e-6")
    func exp() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let lanes = Ops.Vec16((0..<16).map { x + Float($0) * 0.0123 })
            let got = Ops.exp(lanes)
            for i in 0..<16 {
                let want = expf(lanes[i])
                worst = max(worst, abs(got[i] - want) / want)
            }
            x += 0.173
        }
        #expect(worst < 1e-6, "worst relative error \(worst)")
    }

    @Test("vector erf has absolute error below 5e-7, and GELU matches the erf form")
    func erfAndGELU() {
        var worstErf: Float = 0, worstGelu: Float = 0
        var x: Float = -10
        while x < 10 {
            let lanes = Ops.Vec16((0..<16).map { x + Float($0) * 0.001 })
            let e = Ops.erf(lanes), g = Ops.gelu(lanes)
            for i in 0..<16 {
                worstErf = max(worstErf, abs(e[i] - erff(lanes[i])))
                worstGelu = max(worstGelu, abs(g[i] - Ops.geluReference(lanes[i])) / max(1, abs(lanes[i])))
            }
            x += 0.0171
        }
        #expect(worstErf < 5e-7, "worst erf error \(worstErf)")
        #expect(worstGelu < 5e-7, "worst GELU error \(worstGelu)")
    }

    @Test("biasGELU equals its reference, tails included")
    func biasGELU() {
        var rng = SplitMix(state: 1)
        for n in [1, 15, 16, 37, 1536] {
            let rows = 3
            let x = rng.floats(rows * n, scale: 4), bias = rng.floats(n)
            var fast = x, slow = x
            fast.withUnsafeMutableBufferPointer { Ops.biasGELU($0.baseAddress!, bias: bias, rows: rows, n: n) }
            slow.withUnsafeMutableBufferPointer { Ops.biasGELUReference($0.baseAddress!, bias: bias, rows: rows, n: n) }
            #expect(zip(fast, slow).allSatisfy { abs($0 - $1) <= 2e-6 * max(1, abs($1)) }, "n = \(n)")
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
        var rng = SplitMix(state: 3)
        for n in [1, 5, 16, 17, 256, 300] {
            let x = rng.floats(n, scale: 20)
            var fast = x, slow = x
            fast.withUnsafeMutableBufferPointer { Ops.softmax($0.baseAddress!, n: n) }
            slow.withUnsafeMutableBufferPointer { Ops.softmaxReference($0.baseAddress!, n: n) }
            let err = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
            #expect(err < 1e-6, "n = \(n), error \(err)")
            #expect(abs(fast.reduce(0, +) - 1) < 1e-5)
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
