// Decoder ops on raw f32 buffers: RMSNorm, RoPE, softmax, GELU-tanh, SiLU. Allocation-free.
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum DecoderOps {
    /// The residual add `x += y`, `y` first normalised in place by the sandwich norm `postNorm`
    /// (Gemma 3) when there is one.
    @inline(__always)
    public static func addResidual(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                   postNorm: UnsafeMutablePointer<Float>?, _ n: Int, eps: Float) {
        if let postNorm { rmsNorm(y, y, postNorm, n, eps: eps) }
        for i in 0..<n { x[i] += y[i] }
    }

    // x (n,) -> out (n,) = x / rms(x) * w   (out may alias x); ggml's rounding sequence
    @inline(__always)
    public static func rmsNorm(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                               _ n: Int, eps: Float) {
        Kernels.rmsNormGGML(out, x, w, n, eps: eps)
    }

    // cos/sin (dims/2,) of one position as ggml's rope cache computes them: theta starts at pos and is
    // multiplied by thetaScale (= base^(-2/dims)) per pair, divided by the pair's frequency factor, times scale.
    @inline(__always)
    public static func ropeTable(_ cos: UnsafeMutablePointer<Float>, _ sin: UnsafeMutablePointer<Float>, dims: Int,
                                 pos: Int, thetaScale: Float, factors: UnsafePointer<Float>, scale: Float) {
        var theta = Float(pos)
        for i in 0..<(dims / 2) {
            let t = scale * (theta / factors[i])
            cos[i] = cosf(t)
            sin[i] = sinf(t)
            theta *= thetaScale
        }
    }

    // x (head,) in place: rotates the first `dims` values with a precomputed table
    @inline(__always)
    public static func rope(_ x: UnsafeMutablePointer<Float>, dims: Int, cos: UnsafePointer<Float>,
                            sin: UnsafePointer<Float>, neox: Bool) {
        let half = dims / 2
        // fused as GCC compiles ggml's rotate_pairs: fma(x0, c, -(x1 s)), fma(x0, s, x1 c)
        if neox {
            for i in 0..<half {
                let x0 = x[i], x1 = x[i + half]
                x[i] = (-(x1 * sin[i])).addingProduct(x0, cos[i])
                x[i + half] = (x1 * cos[i]).addingProduct(x0, sin[i])
            }
        } else {
            for i in 0..<half {
                let x0 = x[2 * i], x1 = x[2 * i + 1]
                x[2 * i] = (-(x1 * sin[i])).addingProduct(x0, cos[i])
                x[2 * i + 1] = (x1 * cos[i]).addingProduct(x0, sin[i])
            }
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
        Kernels.roundToHalf(x, n)
    }

    // gate (n,) in place: gate = act(gate) * up
    @inline(__always)
    public static func gatedActivation(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int,
                                       gelu: Bool) {
        if gelu {
            Kernels.gegluGGML(gate, up, n)
        } else {
            Kernels.swigluGGML(gate, up, n)
        }
    }
}
