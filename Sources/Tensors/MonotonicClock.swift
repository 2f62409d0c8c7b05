// MonotonicClock — the clock every measured duration is read from: generation statistics,
// pipeline timings, model load times and the benchmarks. It sits in the bottom library target so
// that each stage above can use it.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on CLOCK_MONOTONIC. Unlike `Date()` it never jumps when the wall clock is set, so the
/// difference of two readings is a duration.
public enum MonotonicClock {
    /// Seconds since an arbitrary fixed origin; only differences mean something.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Seconds elapsed since `start`, a reading of `now()`.
    public static func seconds(since start: Double) -> Double { now() - start }

    /// Milliseconds elapsed since `start`, a reading of `now()`.
    public static func milliseconds(since start: Double) -> Double { (now() - start) * 1000 }
}
