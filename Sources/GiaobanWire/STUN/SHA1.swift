/// SHA-1 (FIPS 180-4 §6.1), computed incrementally without heap allocation.
///
/// STUN needs it only inside HMAC-SHA1 for MESSAGE-INTEGRITY (RFC 8489 §14.5). SHA-1 is
/// not collision resistant; do not use it on its own for new security purposes.
public struct SHA1: Sendable {
    /// Digest length in bytes.
    public static let digestByteCount = 20
    /// Block length in bytes.
    public static let blockByteCount = 64

    /// The five chaining words H0…H4 (FIPS 180-4 §5.3.1 initial values).
    @usableFromInline var state: (UInt32, UInt32, UInt32, UInt32, UInt32)
    /// The partial block not yet compressed.
    @usableFromInline var block: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    /// How many bytes of `block` are filled (0–63).
    @usableFromInline var buffered: Int
    /// Total bytes fed so far.
    @usableFromInline var length: UInt64

    /// Starts a new digest.
    public init() {
        state = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        block = (0, 0, 0, 0, 0, 0, 0, 0)
        buffered = 0
        length = 0
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> SHA1Digest {
        var sha = SHA1()
        sha.update(bytes)
        return sha.finalize()
    }

    /// Feeds `bytes` into the digest.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        length &+= UInt64(bytes.count)
        var offset = 0
        if buffered > 0 {
            let take = min(Self.blockByteCount - buffered, bytes.count)
            let start = buffered
            withUnsafeMutableBytes(of: &block) { dst in
                dst.baseAddress.unsafelyUnwrapped.advanced(by: start).copyMemory(from: base, byteCount: take)
            }
            buffered += take
            offset = take
            guard buffered == Self.blockByteCount else { return }
            var full = block
            withUnsafeBytes(of: &full) { Self.compress(&state, $0.baseAddress.unsafelyUnwrapped) }
            buffered = 0
        }
        while bytes.count - offset >= Self.blockByteCount {
            Self.compress(&state, base.advanced(by: offset))
            offset += Self.blockByteCount
        }
        let rest = bytes.count - offset
        if rest > 0 {
            withUnsafeMutableBytes(of: &block) { dst in
                dst.baseAddress.unsafelyUnwrapped.copyMemory(from: base.advanced(by: offset), byteCount: rest)
            }
            buffered = rest
        }
    }

    /// The digest of everything fed so far (FIPS 180-4 §5.1.1 padding); `self` is unchanged.
    public func finalize() -> SHA1Digest {
        var copy = self
        let bitLength = length &* 8
        let marker: UInt8 = 0x80
        withUnsafeBytes(of: marker) { copy.update($0) }
        let zeros = (copy.buffered <= 56 ? 56 : 120) - copy.buffered
        let zeroBlock: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeBytes(of: zeroBlock) { copy.update(UnsafeRawBufferPointer(rebasing: $0[0..<zeros])) }
        withUnsafeBytes(of: bitLength.bigEndian) { copy.update($0) }
        let s = copy.state
        return SHA1Digest(s.0, s.1, s.2, s.3, s.4)
    }

    @inline(__always)
    static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 &- n)) }

    /// Processes one 64-byte block at `p` (FIPS 180-4 §6.1.2), with a 16-word rolling schedule.
    static func compress(_ h: inout (UInt32, UInt32, UInt32, UInt32, UInt32), _ p: UnsafeRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { w in
            for i in 0..<16 {
                w[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))
            }
            var a = h.0, b = h.1, c = h.2, d = h.3, e = h.4
            for t in 0..<80 {
                let wt: UInt32
                if t < 16 {
                    wt = w[t]
                } else {
                    wt = rotl(w[(t &- 3) & 15] ^ w[(t &- 8) & 15] ^ w[(t &- 14) & 15] ^ w[t & 15], 1)
                    w[t & 15] = wt
                }
                let f: UInt32, k: UInt32
                switch t {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let temp = rotl(a, 5) &+ f &+ e &+ k &+ wt
                e = d
                d = c
                c = rotl(b, 30)
                b = a
                a = temp
            }
            h.0 &+= a
            h.1 &+= b
            h.2 &+= c
            h.3 &+= d
            h.4 &+= e
        }
    }
}

/// A 20-byte SHA-1 or HMAC-SHA1 result, held in five words (no heap storage).
public struct SHA1Digest: Hashable, Sendable {
    /// The five big-endian words of the digest, first word first.
    public let w0: UInt32, w1: UInt32, w2: UInt32, w3: UInt32, w4: UInt32

    /// Creates a digest from its five words.
    public init(_ w0: UInt32, _ w1: UInt32, _ w2: UInt32, _ w3: UInt32, _ w4: UInt32) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
        self.w4 = w4
    }

    /// Calls `body` with the 20 digest bytes in network order (stack memory, no allocation).
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let be = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian, w4.bigEndian)
        return try Swift.withUnsafeBytes(of: be) { raw throws(E) -> R in try body(raw) }
    }

    /// Writes the 20 digest bytes at `offset`; the caller has checked that they fit.
    public func write(to out: UnsafeMutableRawBufferPointer, at offset: Int) {
        out.setU32(w0, at: offset)
        out.setU32(w1, at: offset + 4)
        out.setU32(w2, at: offset + 8)
        out.setU32(w3, at: offset + 12)
        out.setU32(w4, at: offset + 16)
    }

    /// True when `bytes` holds exactly these 20 bytes; compares in constant time.
    public func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == SHA1.digestByteCount else { return false }
        let diff = (bytes.u32(at: 0) ^ w0) | (bytes.u32(at: 4) ^ w1) | (bytes.u32(at: 8) ^ w2)
            | (bytes.u32(at: 12) ^ w3) | (bytes.u32(at: 16) ^ w4)
        return diff == 0
    }

    /// The digest as a byte array (allocates; for tests and diagnostics).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
