/// HMAC-SHA1 (RFC 2104), the MESSAGE-INTEGRITY algorithm of STUN (RFC 8489 §14.5).
///
/// The key is absorbed at `init` into the inner and outer hash states, so a keyed value can
/// be kept per session and copied per message: neither keying nor hashing allocates.
public struct HMACSHA1: Sendable {
    /// Inner hash, already fed (key ⊕ ipad).
    @usableFromInline var inner: SHA1
    /// Outer hash, already fed (key ⊕ opad).
    @usableFromInline var outer: SHA1

    /// Keys the MAC with `key`; keys longer than 64 bytes are first hashed (RFC 2104 §2).
    public init(key: UnsafeRawBufferPointer) {
        var i = SHA1()
        var o = SHA1()
        withUnsafeTemporaryAllocation(byteCount: SHA1.blockByteCount, alignment: 8) { pad in
            pad.initializeMemory(as: UInt8.self, repeating: 0)
            if key.count > SHA1.blockByteCount {
                SHA1.hash(key).write(to: pad, at: 0)
            } else if !key.isEmpty {
                pad.copyMemory(from: key)
            }
            for n in 0..<SHA1.blockByteCount { pad[n] ^= 0x36 }
            i.update(UnsafeRawBufferPointer(pad))
            for n in 0..<SHA1.blockByteCount { pad[n] ^= 0x36 ^ 0x5C }
            o.update(UnsafeRawBufferPointer(pad))
        }
        inner = i
        outer = o
    }

    /// Keys the MAC with the UTF-8 bytes of `key` (an ICE short-term password, RFC 8489 §9.1.1).
    public init(key: String) {
        var text = key
        self = text.withUTF8 { HMACSHA1(key: UnsafeRawBufferPointer($0)) }
    }

    /// Feeds message bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        inner.update(bytes)
    }

    /// The 20-byte MAC of everything fed so far; `self` is unchanged.
    public func finalize() -> SHA1Digest {
        var o = outer
        inner.finalize().withUnsafeBytes { o.update($0) }
        return o.finalize()
    }

    /// The MAC of `message` under `key` in one call.
    public static func authenticationCode(key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> SHA1Digest {
        var mac = HMACSHA1(key: key)
        mac.update(message)
        return mac.finalize()
    }
}
