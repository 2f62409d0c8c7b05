// Decoder ops on raw f32 buffers: RMSNorm, RoPE, softmax, GELU-tanh, SiLU. Allocation-free.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum DecoderOps {
    // x (n,) -> out (n,) = x / rms(x) * w   (out may alias x)
    @inline(__always)
    public static func rmsNorm(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                               _ n: Int, eps: Float) {
        var ss: Double = 0
        for i in 0..<n { ss += Double(x[i]) * Double(x[i]) }
        let scale = Float(1 / (ss / Double(n) + Double(eps)).squareRoot())
        for i in 0..<n { out[i] = x[i] * scale * w[i] }
    }

    // x (n,) in place: rotates the first `dims` values of one head at position `pos`.
    // invFreq (dims/2,) = base^(-2i/dims) (and any frequency factors), scale = position multiplier.
    @inline(__always)
    public static func rope(_ x: UnsafeMutablePointer<Float>, dims: Int, pos: Int, invFreq: UnsafePointer<Float>,
                            scale: Float, neox: Bool) {
        let half = dims / 2
        let p = Float(pos) * scale
        for i in 0..<half {
            let theta = p * invFreq[i]
            let c = cosf(theta), s = sinf(theta)
            let a = neox ? i : 2 * i
            let b = neox ? i + half : 2 * i + 1
            let x0 = x[a], x1 = x[b]
            x[a] = x0 * c - x1 * s
            x[b] = x0 * s + x1 * c
        }
    }

    // x (n,) in place: softmax
    @inline(__always)
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        if n <= 0 { return }
        var m = x[0]
        for i in 1..<n where x[i] > m { m = x[i] }
        var sum: Float = 0
        for i in 0..<n {
            let e = expf(x[i] - m)
            x[i] = e
            sum += e
        }
        let inv = 1 / sum
        for i in 0..<n { x[i] *= inv }
    }

    // x (n,) in place: rounds each value to the nearest fp16
    @inline(__always)
    public static func roundToHalf(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { x[i] = Float(Float16(x[i])) }
    }

    // gate (n,) in place: gate = act(gate) * up
    @inline(__always)
    public static func gatedActivation(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int,
                                       gelu: Bool) {
        if gelu {
            let c: Float = 0.797_884_560_802_865_4 // sqrt(2/pi)
            for i in 0..<n {
                let x = gate[i]
                gate[i] = 0.5 * x * (1 + tanhf(c * (x + 0.044715 * x * x * x))) * up[i]
            }
        } else {
            for i in 0..<n {
                let x = gate[i]
                gate[i] = x / (1 + expf(-x)) * up[i]
            }
        }
    }
}
