// Allocation-free lookup structures shared by the GGUF tokenizers:
// - `ByteStringTable`: byte string -> id (open addressing over one contiguous byte buffer),
// - `PairRankTable`: (left piece, right piece) -> (merge rank, merged piece),
// - `SpecialTokenMatcher`: byte trie over special-token texts, reproducing llama.cpp's
//   "longest special token first" partition of the input,
// - small binary heaps for the merge queues.

/// FNV-1a over a byte range, then a 64-bit finalizer so that the low bits (the table index)
/// depend on every byte.
@inline(__always)
func fnv1a(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for i in 0..<n {
        h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01b3
    }
    h ^= h >> 33
    h = h &* 0xff51_afd7_ed55_8ccd
    h ^= h >> 33
    h = h &* 0xc4ce_b9fe_1a85_ec53
    h ^= h >> 33
    return h
}

/// Byte strings stored back to back, indexed by a dense id, with an open-addressing table for
/// `bytes -> id`. Inserting a string that is already present re-points it to the new id
/// (llama.cpp's `token_to_id[word] = i`: the last duplicate wins).
/// A slot holds `fingerprint << 32 | id` (0: empty), so probes that miss rarely touch the bytes.
struct ByteStringTable: Sendable {
    private(set) var storage: [UInt8] = []
    /// `offsets[i] ..< offsets[i + 1]` are the bytes of string `i`.
    private(set) var offsets: [Int] = [0]
    private var slots: [UInt64]
    private var mask: Int
    private var used = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        storage.reserveCapacity(capacity * 8)
        offsets.reserveCapacity(capacity + 1)
    }

    var count: Int { offsets.count - 1 }

    func bytes(of id: Int) -> ArraySlice<UInt8> { storage[offsets[id]..<offsets[id + 1]] }

    func length(of id: Int) -> Int { offsets[id + 1] - offsets[id] }

    @inline(__always)
    private static func fingerprint(_ h: UInt64) -> UInt64 { (h >> 32) | 1 }

    /// A table of `strings` (id = index), indexed in one pass: hashes first, then insertion in
    /// slot order so that the (large) slot array is written almost sequentially.
    /// Empty strings become `[EMPTY_<id>]`, as llama.cpp renames them.
    init(vocabulary strings: [String]) {
        self.init(capacity: strings.count)
        var total = 0
        for s in strings { total += s.utf8.count }
        storage.reserveCapacity(total)
        for (i, s) in strings.enumerated() {
            if s.isEmpty { storage.append(contentsOf: "[EMPTY_\(i)]".utf8) } else { storage.append(contentsOf: s.utf8) }
            offsets.append(storage.count)
        }
        let n = strings.count
        var homes = [UInt32](repeating: 0, count: n)
        var fps = [UInt64](repeating: 0, count: n)
        let mask = self.mask
        storage.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            for i in 0..<n {
                let o = offsets[i], len = offsets[i + 1] - o
                let h = fnv1a(base + o, len)
                homes[i] = UInt32(truncatingIfNeeded: Int(truncatingIfNeeded: h) & mask)
                fps[i] = Self.fingerprint(h)
            }
        }
        // counting sort of the ids by home slot (top bits), stable: duplicates keep id order
        var slotBits = 0
        while 1 << slotBits < slots.count { slotBits += 1 }
        let shift = max(0, slotBits - 16)
        var starts = [Int](repeating: 0, count: (slots.count >> shift) + 1)
        for i in 0..<n { starts[Int(homes[i] >> UInt32(shift)) + 1] += 1 }
        for b in 1..<starts.count { starts[b] += starts[b - 1] }
        var order = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            let b = Int(homes[i] >> UInt32(shift))
            order[starts[b]] = Int32(i)
            starts[b] += 1
        }
        storage.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            for id32 in order {
                let id = Int(id32)
                let o = offsets[id], len = offsets[id + 1] - o
                if len == 0 { continue }
                let fp = fps[id]
                var i = Int(homes[id])
                while true {
                    let v = slots[i]
                    if v == 0 { used += 1; break }
                    if v >> 32 == fp {
                        let s = Int(truncatingIfNeeded: v & 0xFFFF_FFFF)
                        let so = offsets[s], m = offsets[s + 1] - so
                        if m == len && memcmpBytes(base + so, base + o, len) { break }
                    }
                    i = (i + 1) & mask
                }
                // a duplicate text is re-pointed to the later id (ids arrive in order per slot)
                let v = slots[i]
                if v == 0 || Int(truncatingIfNeeded: v & 0xFFFF_FFFF) < id {
                    slots[i] = fp << 32 | UInt64(UInt32(truncatingIfNeeded: id))
                }
            }
        }
    }

    /// Appends a string as the next id and maps its bytes to that id. Returns the id.
    @discardableResult
    mutating func append<C: Collection>(_ s: C) -> Int32 where C.Element == UInt8 {
        let id = Int32(count)
        storage.append(contentsOf: s)
        offsets.append(storage.count)
        if (used + 1) * 2 > slots.count { grow() }
        insertSlot(id)
        return id
    }

    private mutating func insertSlot(_ id: Int32) {
        let start = offsets[Int(id)], n = offsets[Int(id) + 1] - start
        if n == 0 { return }  // empty strings are stored but never looked up
        let slot = storage.withUnsafeBufferPointer { buf -> (index: Int, fresh: Bool, fp: UInt64) in
            guard let base = buf.baseAddress else { return (-1, false, 0) }
            let p = base + start
            let h = fnv1a(p, n)
            let fp = Self.fingerprint(h)
            var i = Int(truncatingIfNeeded: h) & mask
            while true {
                let v = slots[i]
                if v == 0 { return (i, true, fp) }
                if v >> 32 == fp {
                    let s = Int(truncatingIfNeeded: v & 0xFFFF_FFFF)
                    let o = offsets[s], m = offsets[s + 1] - o
                    if m == n && memcmpBytes(base + o, p, n) { return (i, false, fp) }
                }
                i = (i + 1) & mask
            }
        }
        if slot.index < 0 { return }
        if slot.fresh { used += 1 }
        slots[slot.index] = slot.fp << 32 | UInt64(UInt32(bitPattern: id))
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        used = 0
        for id in 0..<Int32(count) { insertSlot(id) }
    }

    /// The id of the string `p[0..<n]`, or -1 (always -1 for the empty string).
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        if n == 0 { return -1 }
        let h = fnv1a(p, n)
        let fp = Self.fingerprint(h)
        var i = Int(truncatingIfNeeded: h) & mask
        return storage.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return -1 }
            while true {
                let v = slots[i]
                if v == 0 { return -1 }
                if v >> 32 == fp {
                    let s = Int(truncatingIfNeeded: v & 0xFFFF_FFFF)
                    let o = offsets[s], m = offsets[s + 1] - o
                    if m == n && memcmpBytes(base + o, p, n) { return Int32(truncatingIfNeeded: s) }
                }
                i = (i + 1) & mask
            }
        }
    }

    func lookup<C: Collection>(_ s: C) -> Int32 where C.Element == UInt8 {
        if let r = s.withContiguousStorageIfAvailable({ b -> Int32 in
            guard let base = b.baseAddress else { return -1 }
            return lookup(base, b.count)
        }) {
            return r
        }
        return Array(s).withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return -1 }
            return lookup(base, b.count)
        }
    }
}

@inline(__always)
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    for i in 0..<n where a[i] != b[i] { return false }
    return true
}

/// (left piece id, right piece id) -> (rank, merged piece id), open addressing.
struct PairRankTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    @inline(__always)
    private static func hash(_ k: UInt64) -> Int {
        var x = k &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return Int(truncatingIfNeeded: x)
    }

    /// Inserts unless the pair is already present (the first, lowest-rank merge wins, as in
    /// llama.cpp's `bpe_ranks.emplace`).
    mutating func insertIfAbsent(_ a: Int32, _ b: Int32, rank: Int32, merged: Int32) {
        if (count + 1) * 2 > keys.count { grow() }
        let k = Self.key(a, b)
        var i = Self.hash(k) & mask
        while keys[i] != Self.empty {
            if keys[i] == k { return }
            i = (i + 1) & mask
        }
        keys[i] = k
        values[i] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
        count += 1
    }

    private mutating func grow() {
        let oldK = keys, oldV = values
        let size = keys.count * 2
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
        for (k, v) in zip(oldK, oldV) where k != Self.empty {
            var i = Self.hash(k) & mask
            while keys[i] != Self.empty { i = (i + 1) & mask }
            keys[i] = k
            values[i] = v
        }
    }

    /// (rank, merged piece) or nil.
    @inline(__always)
    func lookup(_ a: Int32, _ b: Int32) -> (rank: Int32, merged: Int32)? {
        let k = Self.key(a, b)
        var i = Self.hash(k) & mask
        while true {
            let kk = keys[i]
            if kk == k {
                let v = values[i]
                return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v))
            }
            if kk == Self.empty { return nil }
            i = (i + 1) & mask
        }
    }
}

/// A binary heap whose `<` means "is popped first" (no allocation once warmed up).
struct MergeHeap<Element: Comparable> {
    var items: [Element] = []

    init() {}

    var isEmpty: Bool { items.isEmpty }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) >> 1
            if items[i] < items[p] { items.swapAt(i, p); i = p } else { break }
        }
    }

    mutating func pop() -> Element? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n && items[l] < items[m] { m = l }
                if r < n && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}

/// One piece of the input after special tokens were split out.
enum TextFragment: Equatable {
    /// Raw text bytes `range` of the input, to be tokenized by the model's algorithm.
    case text(Range<Int>)
    /// A special (control, user-defined or unknown) token found as a whole string.
    case token(Int32)
}

/// Finds special tokens in a text the way llama.cpp's `tokenizer_st_partition` does: special
/// tokens are taken one by one, longest text first, and each one splits the remaining raw text
/// at its leftmost non-overlapping occurrences. User-defined tokens are always matched; control
/// and unknown tokens only when special tokens are parsed.
struct SpecialTokenMatcher: Sendable {
    /// Trie nodes: children keyed by `node << 8 | byte`.
    private var children: [Int: Int32] = [:]
    /// Per node: the special token ending here (-1 if none).
    private var terminal: [Int32] = [-1]
    /// Per token id in the trie: its rank in processing order (longest first).
    private var order: [Int32: Int32] = [:]
    /// Tokens matched even when special tokens are not parsed (user-defined ones).
    private var alwaysMatched: Set<Int32> = []
    private var firstBytes = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { order.isEmpty }

    /// `specials`: (id, text bytes, always matched). Ids sorted by text length (descending),
    /// then id, give the processing order.
    init(specials: [(id: Int32, text: [UInt8], always: Bool)]) {
        let sorted = specials.filter { !$0.text.isEmpty }.sorted {
            $0.text.count != $1.text.count ? $0.text.count > $1.text.count : $0.id < $1.id
        }
        for (rank, s) in sorted.enumerated() {
            var node = 0
            for b in s.text {
                let k = node << 8 | Int(b)
                if let c = children[k] {
                    node = Int(c)
                } else {
                    terminal.append(-1)
                    let c = Int32(terminal.count - 1)
                    children[k] = c
                    node = Int(c)
                }
            }
            // Two tokens with the same text: the first in processing order wins.
            if terminal[node] < 0 { terminal[node] = s.id }
            order[s.id] = Int32(rank)
            if s.always { alwaysMatched.insert(s.id) }
            firstBytes[Int(s.text[0])] = true
        }
    }

    /// Splits `bytes` into raw-text ranges and special tokens.
    func partition(_ bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [TextFragment] {
        let n = bytes.count
        if n == 0 { return [] }
        if order.isEmpty { return [.text(0..<n)] }
        // 1. every occurrence of every eligible special token: (rank, start, length, id)
        var occ: [(rank: Int32, start: Int32, len: Int32, id: Int32)] = []
        for start in 0..<n where firstBytes[Int(bytes[start])] {
            var node = 0
            var p = start
            while p < n, let c = children[node << 8 | Int(bytes[p])] {
                node = Int(c)
                p += 1
                let t = terminal[node]
                if t >= 0, parseSpecial || alwaysMatched.contains(t), let r = order[t] {
                    occ.append((r, Int32(start), Int32(p - start), t))
                }
            }
        }
        if occ.isEmpty { return [.text(0..<n)] }
        // 2. in processing order, keep occurrences that do not overlap kept ones
        occ.sort { $0.rank != $1.rank ? $0.rank < $1.rank : $0.start < $1.start }
        var covered = [Bool](repeating: false, count: n)
        var kept: [(start: Int, end: Int, id: Int32)] = []
        for o in occ {
            let s = Int(o.start), e = s + Int(o.len)
            var free = true
            for i in s..<e where covered[i] { free = false; break }
            if !free { continue }
            for i in s..<e { covered[i] = true }
            kept.append((s, e, o.id))
        }
        kept.sort { $0.start < $1.start }
        var out: [TextFragment] = []
        var pos = 0
        for k in kept {
            if k.start > pos { out.append(.text(pos..<k.start)) }
            out.append(.token(k.id))
            pos = k.end
        }
        if pos < n { out.append(.text(pos..<n)) }
        return out
    }
}
