// Ops — elementwise and row-wise kernels for transformer layers: layer norm, GELU (erf form),
// softmax, bias and residual additions. Allocation-free; vectorized with SIMD16<Float>, or in C
// (CKernels' ops-encoder.c) where the work needs FMA and exp/erf polynomials (softmax, GELU); each
// fast kernel has a plain scalar twin (`…Reference`) that the tests compare it with.
//
// All kernels work in place on row-major buffers and take the output first.

import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Ops {
    /// 16 float lanes: the unit of the vectorized kernels.
    public typealias Vec16 = SIMD16<Float>

    @inlinable @inline(__always)
    static func load16(_ p: UnsafePointer<Float>) -> Vec16 {
        UnsafeRawPointer(p).loadUnaligned(as: Vec16.self)
    }

    @inlinable @inline(__always)
    static func store16(_ p: UnsafeMutablePointer<Float>, _ v: Vec16) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec16.self)
    }

    // MARK: - Scalar references

    /// Scalar GELU with the C library's erf.
    @inlinable @inline(__always)
    public static func geluReference(_ x: Float) -> Float {
        x * 0.5 * (1 + erff(x * 0.707_106_781_186_547_6))
    }

    // MARK: - Row kernels

    // x (rows, n) = gelu(x + bias (n,)); bias may be nil. In C (ops-encoder.c) for FMA and 512-bit
    // registers; erf within 2e-7 of libm's.
    @inlinable
    public static func biasGELU(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, n: Int) {
        ck_bias_gelu_erf(x, bias, Int32(rows), Int32(n))
    }

    // x (rows, n) = gelu(x + bias) with scalar erf — the reference for `biasGELU`.
    public static func biasGELUReference(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, n: Int) {
        for r in 0..<rows {
            for i in 0..<n { x[r * n + i] = geluReference(x[r * n + i] + (bias?[i] ?? 0)) }
        }
    }

    // x (rows, n) += bias (n,)
    @inlinable
    public static func addBias(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, n: Int) {
        for r in 0..<rows {
            let row = x + r * n
            var i = 0
            while i + 16 <= n { store16(row + i, load16(row + i) + load16(bias + i)); i += 16 }
            while i < n { row[i] += bias[i]; i += 1 }
        }
    }

    // x (rows, n) = LayerNorm(x + bias (n,) + residual (rows, n)) · gamma + beta, per row.
    // bias and residual may be nil. Mean and variance in two passes (no cancellation).
    @inlinable
    public static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, n: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                 bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil) {
        let vectorEnd = n & ~15
        for r in 0..<rows {
            let row = x + r * n
            let res = residual.map { $0 + r * n }
            // Pass 1: add and sum.
            var acc = Vec16()
            var i = 0
            while i < vectorEnd {
                var v = load16(row + i)
                if let bias { v += load16(bias + i) }
                if let res { v += load16(res + i) }
                store16(row + i, v)
                acc += v
                i += 16
            }
            var sum = acc.sum()
            while i < n {
                var v = row[i]
                if let bias { v += bias[i] }
                if let res { v += res[i] }
                row[i] = v
                sum += v
                i += 1
            }
            let mean = sum / Float(n)
            // Pass 2: variance.
            let m16 = Vec16(repeating: mean)
            var vacc = Vec16()
            i = 0
            while i < vectorEnd { let d = load16(row + i) - m16; vacc += d * d; i += 16 }
            var variance = vacc.sum()
            while i < n { let d = row[i] - mean; variance += d * d; i += 1 }
            variance /= Float(n)
            let inv = 1 / (variance + eps).squareRoot()
            let inv16 = Vec16(repeating: inv)
            // Pass 3: normalize.
            i = 0
            while i < vectorEnd {
                store16(row + i, (load16(row + i) - m16) * inv16 * load16(gamma + i) + load16(beta + i))
                i += 16
            }
            while i < n { row[i] = (row[i] - mean) * inv * gamma[i] + beta[i]; i += 1 }
        }
    }

    // Scalar twin of `layerNorm`, accumulating in Double.
    public static func layerNormReference(_ x: UnsafeMutablePointer<Float>, rows: Int, n: Int,
                                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                          bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil) {
        for r in 0..<rows {
            let row = x + r * n
            var values = [Double](repeating: 0, count: n)
            for i in 0..<n {
                values[i] = Double(row[i]) + Double(bias?[i] ?? 0) + Double(residual?[r * n + i] ?? 0)
            }
            let mean = values.reduce(0, +) / Double(n)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
            let inv = 1 / (variance + Double(eps)).squareRoot()
            for i in 0..<n { row[i] = Float((values[i] - mean) * inv * Double(gamma[i]) + Double(beta[i])) }
        }
    }

    // x (n,) = softmax(x) in place (n ≥ 1).
    @inlinable
    public static func softmax(_ x: UnsafeMutablePointer<Float>, n: Int) {
        scale(x, by: softmaxUnnormalized(x, n: n), n: n)
    }

    // x (n,) = exp(x - max(x)) in place; returns 1 / Σ, the factor that completes the softmax.
    // Lets attention scale its (L, d) output rows instead of the (L, L) probabilities.
    @inlinable @inline(__always)
    public static func softmaxUnnormalized(_ x: UnsafeMutablePointer<Float>, n: Int) -> Float {
        ck_softmax_unnormalized(x, Int32(n))
    }

    // x (n,) *= factor
    @inlinable @inline(__always)
    public static func scale(_ x: UnsafeMutablePointer<Float>, by factor: Float, n: Int) {
        let f = Vec16(repeating: factor)
        var i = 0
        while i + 16 <= n { store16(x + i, load16(x + i) * f); i += 16 }
        while i < n { x[i] *= factor; i += 1 }
    }

    // Scalar twin of `softmax` with the C library's exp.
    public static func softmaxReference(_ x: UnsafeMutablePointer<Float>, n: Int) {
        var mx = -Float.greatestFiniteMagnitude
        for i in 0..<n { mx = max(mx, x[i]) }
        var sum: Float = 0
        for i in 0..<n { x[i] = expf(x[i] - mx); sum += x[i] }
        for i in 0..<n { x[i] /= sum }
    }
}
