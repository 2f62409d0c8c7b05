// A persistent pool of worker threads for matrix-vector work: no Task/Dispatch per call.
// Workers spin briefly on a generation counter (decode issues hundreds of small jobs per token),
// then sleep on a condition variable, so an idle pool costs no CPU.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

public final class ThreadPool: @unchecked Sendable {
    private let core: PoolCore

    /// Threads taking part in a job, the caller included.
    public var threadCount: Int { core.threadCount }

    /// A pool with one thread per online CPU.
    public static let shared = ThreadPool(threads: ThreadPool.onlineCPUs)

    public static var onlineCPUs: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    public init(threads n: Int) { core = PoolCore(threads: n) }

    /// The shared pool when `threads` is nil or its size, else a pool of its own (at least one thread).
    public static func sized(_ threads: Int?) -> ThreadPool {
        guard let threads, threads != shared.threadCount else { return shared }
        return ThreadPool(threads: max(1, threads))
    }

    deinit { core.stop() }

    /// Runs `body(i)` for i in 0..<chunks across the pool (the caller takes part) and returns
    /// when all are done. Calls from different threads are serialised.
    public func run(chunks: Int, _ body: (Int) -> Void) { core.run(chunks: chunks, body) }

    /// Splits 0..<count into about `threadCount * perThread` ranges (at least `minChunk` long).
    public func parallelFor(_ count: Int, minChunk: Int = 1, perThread: Int = 4,
                            _ body: (_ start: Int, _ end: Int) -> Void) {
        if count <= 0 { return }
        let target = max(1, threadCount * perThread)
        let chunk = max(minChunk, (count + target - 1) / target)
        let chunks = (count + chunk - 1) / chunk
        run(chunks: chunks) { i in
            let s = i * chunk
            body(s, min(count, s + chunk))
        }
    }
}

private final class PoolCore: @unchecked Sendable {
    let threadCount: Int

    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let nextChunk = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private var chunkCount = 0
    private var job: ((Int) -> Void)?
    private var shutdown = false
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private let callerLock: UnsafeMutablePointer<pthread_mutex_t>
    private var threads: [pthread_t] = []

    public init(threads n: Int) {
        threadCount = max(1, n)
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        callerLock = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        pthread_mutex_init(callerLock, nil)
        for _ in 1..<threadCount {
            let ctx = Unmanaged.passRetained(self).toOpaque()
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { arg in
                guard let arg else { return nil }
                let core = Unmanaged<PoolCore>.fromOpaque(arg).takeRetainedValue()
                core.workerLoop()
                return nil
            }, ctx)
            if rc == 0 { threads.append(tid) } else { Unmanaged<PoolCore>.fromOpaque(ctx).release() }
        }
    }

    /// Stops and joins the workers (they hold the last references to this core).
    func stop() {
        pthread_mutex_lock(mutex)
        shutdown = true
        generation.wrappingAdd(1, ordering: .releasing)
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
        for t in threads { pthread_join(t, nil) }
        threads = []
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(callerLock)
        mutex.deallocate()
        cond.deallocate()
        callerLock.deallocate()
    }

    func run(chunks: Int, _ body: (Int) -> Void) {
        if chunks <= 0 { return }
        if threads.isEmpty || chunks == 1 {
            for i in 0..<chunks { body(i) }
            return
        }
        pthread_mutex_lock(callerLock)
        defer { pthread_mutex_unlock(callerLock) }
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            chunkCount = chunks
            nextChunk.store(0, ordering: .relaxed)
            pending.store(threads.count, ordering: .relaxed)
            generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
            // Sequentially consistent with the worker's sleepers/generation pair (store-load).
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(cond)
                pthread_mutex_unlock(mutex)
            }
            runChunks()
            var spins = 0
            while pending.load(ordering: .acquiring) != 0 {
                spins += 1
                // A descheduled worker (busy machine) is better waited for by yielding the core.
                if spins > 20_000 { sched_yield() } else { spinPause() }
            }
            job = nil
        }
    }

    private func runChunks() {
        guard let job else { return }
        let n = chunkCount
        while true {
            let i = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= n { break }
            job(i)
        }
    }

    @inline(__always) private func spinPause() {
        #if arch(x86_64) || arch(i386)
        // A short busy loop; `pause` is not exposed to Swift.
        for _ in 0..<4 { _ = generation.load(ordering: .relaxed) }
        #endif
    }

    func workerLoop() {
        // Generation 0 is the state before any job (a job may be posted before this thread starts).
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins > 20_000 {
                    pthread_mutex_lock(mutex)
                    sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(cond, mutex) }
                    sleepers.wrappingSubtract(1, ordering: .releasing)
                    pthread_mutex_unlock(mutex)
                    break
                }
                if spins > 20_000 { sched_yield() } else { spinPause() }
            }
            seen = generation.load(ordering: .acquiring)
            if shutdown { return }
            runChunks()
            pending.wrappingSubtract(1, ordering: .releasing)
        }
    }
}
