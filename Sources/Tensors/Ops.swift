// Ops — elementwise and row-wise kernels for transformer layers: layer norm, GELU (erf form),
// softmax, bias and residual additions. Vectorized with SIMD16<Float>, allocation-free; each fast
// kernel has a plain scalar twin (`…Reference`) that the tests compare it with.
//
// All kernels work in place on row-major buffers and take the output first.

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

    // MARK: - Vector math

    // Only plain lane-wise arithmetic and bit operations below: Swift compiles those to vector
    // instructions, while the generic SIMD helpers (min, max, clamped, replacing) are scalarised.

    /// |x| for 16 lanes (clears the sign bits).
    @inlinable @inline(__always)
    public static func abs16(_ x: Vec16) -> Vec16 {
        unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: Vec16.self)
    }

    /// Lane-wise `d < 0 ? b : a`, with bit operations (the sign of d becomes a lane mask).
    @inlinable @inline(__always)
    static func select(_ a: Vec16, _ b: Vec16, whereNegative d: Vec16) -> Vec16 {
        let m = unsafeBitCast(d, to: SIMD16<Int32>.self) &>> 31
        let ai = unsafeBitCast(a, to: SIMD16<Int32>.self), bi = unsafeBitCast(b, to: SIMD16<Int32>.self)
        return unsafeBitCast((ai & (m ^ SIMD16<Int32>(repeating: -1))) | (bi & m), to: Vec16.self)
    }

    /// Lane-wise max(a, b) (finite inputs).
    @inlinable @inline(__always)
    public static func max16(_ a: Vec16, _ b: Vec16) -> Vec16 { select(a, b, whereNegative: a - b) }

    /// Lane-wise min(a, b) (finite inputs).
    @inlinable @inline(__always)
    public static func min16(_ a: Vec16, _ b: Vec16) -> Vec16 { select(a, b, whereNegative: b - a) }

    /// e^x for 16 lanes, relative error ≈ 2e-7 (inputs clamped to [-87.3, 88.3]).
    @inlinable @inline(__always)
    public static func exp(_ x: Vec16) -> Vec16 {
        expClamped(min16(x, Vec16(repeating: 88.3)))
    }

    /// e^x for inputs known to be ≤ 88.3 (softmax, erf): only the lower clamp.
    @inlinable @inline(__always)
    static func expClamped(_ x: Vec16) -> Vec16 {
        let clamped = max16(x, Vec16(repeating: -87.3))
        // n = round(x / ln 2) through the 1.5·2^23 trick: the low mantissa bits hold n.
        let magic = Vec16(repeating: 12_582_912)
        let t = clamped * Vec16(repeating: 1.442_695_04) + magic
        let n = t - magic
        // r = x - n·ln2 in two parts (Cody–Waite) so r keeps full precision, |r| ≤ ln2/2.
        let r = clamped - n * Vec16(repeating: 0.693_145_751_953_125) - n * Vec16(repeating: 1.428_606_765_330_187e-06)
        // e^r by its Taylor series to degree 7 (error < 2e-8 on |r| ≤ 0.35).
        var p = Vec16(repeating: 1.0 / 5040)
        p = p * r + Vec16(repeating: 1.0 / 720)
        p = p * r + Vec16(repeating: 1.0 / 120)
        p = p * r + Vec16(repeating: 1.0 / 24)
        p = p * r + Vec16(repeating: 1.0 / 6)
        p = p * r + Vec16(repeating: 0.5)
        p = p * r + Vec16(repeating: 1)
        p = p * r + Vec16(repeating: 1)
        // 2^n from the integer in t's low bits.
        let tb = unsafeBitCast(t, to: SIMD16<Int32>.self)
        let mb = unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let scale = unsafeBitCast((tb &- mb &+ 127) &<< 23, to: Vec16.self)
        return p * scale
    }

    /// erf(x) for 16 lanes, absolute error ≈ 2e-7 (Abramowitz & Stegun 7.1.26).
    @inlinable @inline(__always)
    public static func erf(_ x: Vec16) -> Vec16 {
        let a = abs16(x)
        let one = Vec16(repeating: 1)
        let t = one / (one + Vec16(repeating: 0.327_591_1) * a)
        var p = Vec16(repeating: 1.061_405_429)
        p = p * t + Vec16(repeating: -1.453_152_027)
        p = p * t + Vec16(repeating: 1.421_413_741)
        p = p * t + Vec16(repeating: -0.284_496_736)
        p = p * t + Vec16(repeating: 0.254_829_592)
        p = p * t
        let y = one - p * expClamped(-(a * a))
        // erf is odd: give y the sign of x.
        let sign = unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x8000_0000
        return unsafeBitCast(unsafeBitCast(y, to: SIMD16<UInt32>.self) ^ sign, to: Vec16.self)
    }

    /// GELU, erf form: x · ½ (1 + erf(x / √2)).
    @inlinable @inline(__always)
    public static func gelu(_ x: Vec16) -> Vec16 {
        let half = Vec16(repeating: 0.5)
        return x * half + x * half * erf(x * Vec16(repeating: 0.707_106_781_186_547_6))
    }

    /// Scalar GELU with the C library's erf.
    @inlinable @inline(__always)
    public static func geluReference(_ x: Float) -> Float {
        x * 0.5 * (1 + erff(x * 0.707_106_781_186_547_6))
    }

    // MARK: - Row kernels

    // x (rows, n) = gelu(x + bias (n,)); bias may be nil.
    @inlinable
    public static func biasGELU(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, n: Int) {
        for r in 0..<rows {
            let row = x + r * n
            var i = 0
            while i + 16 <= n {
                var v = load16(row + i)
                if let bias { v += load16(bias + i) }
                store16(row + i, gelu(v))
                i += 16
            }
            while i < n {
                let v = row[i] + (bias?[i] ?? 0)
                row[i] = geluReference(v)
                i += 1
            }
        }
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
        let vectorEnd = n & ~15
        var mx: Float
        var i = 0
        if vectorEnd > 0 {
            var m16 = load16(x)
            i = 16
            while i < vectorEnd { m16 = max16(m16, load16(x + i)); i += 16 }
            mx = m16[0]
            for j in 1..<16 { mx = Swift.max(mx, m16[j]) }
        } else {
            mx = x[0]
        }
        while i < n { mx = Swift.max(mx, x[i]); i += 1 }
        let mv = Vec16(repeating: mx)
        var acc = Vec16()
        i = 0
        while i < vectorEnd {
            let e = expClamped(load16(x + i) - mv)
            store16(x + i, e)
            acc += e
            i += 16
        }
        var sum = acc.sum()
        if i < n {
            var tail = Vec16(repeating: -100)
            for j in i..<n { tail[j - i] = x[j] - mx }
            let e = expClamped(tail)
            for j in i..<n { x[j] = e[j - i]; sum += e[j - i] }
        }
        return 1 / sum
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
