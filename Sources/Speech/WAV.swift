import Foundation

/// 16-bit PCM WAV encoding and parsing, in memory.
public enum WAV {
    /// Encodes mono 16-bit little-endian PCM samples as a canonical 44-byte-header WAV file.
    public static func encode(samples: [Int16], sampleRate: Int, channels: Int = 1) -> Data {
        let bitsPerSample = 16
        let blockAlign = channels * bitsPerSample / 8
        let dataBytes = samples.count * 2
        var out = Data(capacity: 44 + dataBytes)
        func u32(_ v: Int) { var x = UInt32(truncatingIfNeeded: v).littleEndian; withUnsafeBytes(of: &x) { out.append(contentsOf: $0) } }
        func u16(_ v: Int) { var x = UInt16(truncatingIfNeeded: v).littleEndian; withUnsafeBytes(of: &x) { out.append(contentsOf: $0) } }
        out.append(contentsOf: Array("RIFF".utf8)); u32(36 + dataBytes)
        out.append(contentsOf: Array("WAVE".utf8))
        out.append(contentsOf: Array("fmt ".utf8)); u32(16)
        u16(1)                                // PCM
        u16(channels)
        u32(sampleRate)
        u32(sampleRate * blockAlign)          // byte rate
        u16(blockAlign)
        u16(bitsPerSample)
        out.append(contentsOf: Array("data".utf8)); u32(dataBytes)
        samples.withUnsafeBufferPointer { buf in
            #if _endian(little)
            out.append(contentsOf: UnsafeRawBufferPointer(buf))
            #else
            for s in buf { var le = s.littleEndian; withUnsafeBytes(of: &le) { out.append(contentsOf: $0) } }
            #endif
        }
        return out
    }

    /// What a WAV header says.
    public struct Info: Sendable, Equatable {
        public var format: Int
        public var channels: Int
        public var sampleRate: Int
        public var bitsPerSample: Int
        /// Bytes of sample data (the `data` chunk).
        public var dataBytes: Int
        /// Offset of the first sample byte in the file.
        public var dataOffset: Int
        public var sampleCount: Int { dataBytes / max(1, channels * bitsPerSample / 8) }
        public var duration: Double { Double(sampleCount) / Double(max(1, sampleRate)) }
        public init(format: Int, channels: Int, sampleRate: Int, bitsPerSample: Int, dataBytes: Int, dataOffset: Int) {
            self.format = format; self.channels = channels; self.sampleRate = sampleRate
            self.bitsPerSample = bitsPerSample; self.dataBytes = dataBytes; self.dataOffset = dataOffset
        }
    }

    /// Parses and checks a RIFF/WAVE buffer (walks chunks, so extra chunks are fine).
    public static func parse(_ data: Data) throws -> Info {
        let bytes = [UInt8](data)
        guard bytes.count >= 44 else { throw SpeechError.invalidWAV("\(bytes.count) bytes, shorter than a WAV header") }
        func tag(_ o: Int) -> String { String(decoding: bytes[o..<o + 4], as: UTF8.self) }
        func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        guard tag(0) == "RIFF" else { throw SpeechError.invalidWAV("missing RIFF tag") }
        guard tag(8) == "WAVE" else { throw SpeechError.invalidWAV("missing WAVE tag") }
        guard u32(4) == bytes.count - 8 else { throw SpeechError.invalidWAV("RIFF size \(u32(4)) but file has \(bytes.count - 8) bytes after it") }
        var offset = 12
        var fmt: (Int, Int, Int, Int)?
        while offset + 8 <= bytes.count {
            let id = tag(offset), size = u32(offset + 4)
            let body = offset + 8
            guard body + size <= bytes.count else { throw SpeechError.invalidWAV("chunk '\(id)' overruns the file") }
            if id == "fmt " {
                guard size >= 16 else { throw SpeechError.invalidWAV("fmt chunk too short") }
                fmt = (u16(body), u16(body + 2), u32(body + 4), u16(body + 14))
            } else if id == "data" {
                guard let f = fmt else { throw SpeechError.invalidWAV("data chunk before fmt chunk") }
                return Info(format: f.0, channels: f.1, sampleRate: f.2, bitsPerSample: f.3, dataBytes: size, dataOffset: body)
            }
            offset = body + size + (size & 1)
        }
        throw SpeechError.invalidWAV("no data chunk")
    }

    /// The 16-bit samples of a mono/interleaved PCM WAV.
    /// Joins 16-bit mono WAVs of one sample rate into one (the spoken sentences of an answer).
    public static func join(_ wavs: [Data]) throws -> Data {
        var samples: [Int16] = []
        var rate = 22_050
        for w in wavs {
            rate = try parse(w).sampleRate
            samples += try Self.samples(w)
        }
        return encode(samples: samples, sampleRate: rate)
    }

    public static func samples(_ data: Data) throws -> [Int16] {
        let info = try parse(data)
        guard info.format == 1, info.bitsPerSample == 16 else { throw SpeechError.invalidWAV("not 16-bit PCM") }
        let bytes = [UInt8](data)
        var out = [Int16](repeating: 0, count: info.dataBytes / 2)
        for i in 0..<out.count {
            let o = info.dataOffset + 2 * i
            out[i] = Int16(bitPattern: UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8)
        }
        return out
    }
}
