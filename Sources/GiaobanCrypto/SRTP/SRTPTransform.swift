internal import COpenSSL

/// The keyed crypto of one SRTP or SRTCP direction: one EVP cipher context keyed once
/// (AES-128-GCM, RFC 7714; or AES-128-CTR, RFC 3711 §4.1.1), the HMAC-SHA1 key pads hashed
/// once (RFC 3711 §4.2.1), and the session salt. Per packet only the IV changes, so nothing
/// is allocated: OpenSSL re-initialises a keyed context with a new IV in place.
final class SRTPTransform {
    /// True for AEAD_AES_128_GCM, false for AES-CM with HMAC-SHA1.
    let isGCM: Bool
    /// The session salt (12 bytes for GCM, 14 for AES-CM).
    let salt: UnsafeMutablePointer<UInt8>
    let saltLength: Int
    private let cipher: OpaquePointer
    /// SHA-1 states after the inner and outer key pads, and one to work in (AES-CM only).
    private let inner: UnsafeMutablePointer<SHA_CTX>
    private let outer: UnsafeMutablePointer<SHA_CTX>
    private let work: UnsafeMutablePointer<SHA_CTX>
    /// The last HMAC-SHA1 result.
    let digest: UnsafeMutablePointer<UInt8>

    init?(gcm: Bool, cipherKey: [UInt8], authKey: [UInt8], salt: [UInt8]) {
        // RFC 7714 §12: a 12-byte salt with GCM; RFC 3711 §8.2: 14 bytes with AES-CM.
        guard cipherKey.count == 16, authKey.count <= 64, salt.count == (gcm ? 12 : 14),
              let cipher = EVP_CIPHER_CTX_new() else { return nil }
        let keyed = cipherKey.withUnsafeBufferPointer {
            EVP_EncryptInit_ex(cipher, gcm ? EVP_aes_128_gcm() : EVP_aes_128_ctr(), nil, $0.baseAddress, nil)
        }
        guard keyed == 1 else {
            EVP_CIPHER_CTX_free(cipher)
            return nil
        }
        self.isGCM = gcm
        self.cipher = cipher
        self.saltLength = salt.count
        self.salt = .allocate(capacity: max(salt.count, 1))
        self.salt.initialize(from: salt, count: salt.count)
        inner = .allocate(capacity: 1)
        outer = .allocate(capacity: 1)
        work = .allocate(capacity: 1)
        digest = .allocate(capacity: 20)
        digest.initialize(repeating: 0, count: 20)
        // HMAC (RFC 2104): H(K ⊕ opad ‖ H(K ⊕ ipad ‖ m)); both pad blocks hashed here, once.
        var pad = [UInt8](repeating: 0x36, count: 64)
        for (i, byte) in authKey.enumerated() { pad[i] ^= byte }
        giaoban_sha1_init(inner)
        giaoban_sha1_update(inner, pad, 64)
        pad = [UInt8](repeating: 0x5c, count: 64)
        for (i, byte) in authKey.enumerated() { pad[i] ^= byte }
        giaoban_sha1_init(outer)
        giaoban_sha1_update(outer, pad, 64)
        work.initialize(to: inner.pointee)
    }

    deinit {
        EVP_CIPHER_CTX_free(cipher)
        salt.update(repeating: 0, count: saltLength)
        salt.deallocate()
        inner.deallocate()
        outer.deallocate()
        work.deallocate()
        digest.deallocate()
    }

    /// XORs the AES-CTR keystream that starts at counter block `iv` into `data` in place.
    @inline(__always)
    func applyKeystream(iv: UnsafePointer<UInt8>, _ data: UnsafeMutablePointer<UInt8>, count: Int) -> Bool {
        guard count > 0 else { return true }
        var written: Int32 = 0
        return EVP_EncryptInit_ex(cipher, nil, nil, nil, iv) == 1
            && EVP_EncryptUpdate(cipher, data, &written, data, Int32(count)) == 1
    }

    /// GCM-encrypts `data` in place with additional data `aad` ‖ `aad2` and writes the 16-byte tag.
    @inline(__always)
    func seal(iv: UnsafePointer<UInt8>, aad: UnsafePointer<UInt8>, aadCount: Int,
              aad2: UnsafePointer<UInt8>?, aad2Count: Int,
              _ data: UnsafeMutablePointer<UInt8>, count: Int, tag: UnsafeMutablePointer<UInt8>) -> Bool {
        var written: Int32 = 0
        guard EVP_EncryptInit_ex(cipher, nil, nil, nil, iv) == 1,
              EVP_EncryptUpdate(cipher, nil, &written, aad, Int32(aadCount)) == 1 else { return false }
        if let aad2, aad2Count > 0 {
            guard EVP_EncryptUpdate(cipher, nil, &written, aad2, Int32(aad2Count)) == 1 else { return false }
        }
        if count > 0 {
            guard EVP_EncryptUpdate(cipher, data, &written, data, Int32(count)) == 1 else { return false }
        }
        return EVP_EncryptFinal_ex(cipher, tag, &written) == 1
            && EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1
    }

    /// GCM-decrypts `data` in place and checks the 16-byte `tag`; false when it does not verify.
    @inline(__always)
    func open(iv: UnsafePointer<UInt8>, aad: UnsafePointer<UInt8>, aadCount: Int,
              aad2: UnsafePointer<UInt8>?, aad2Count: Int,
              _ data: UnsafeMutablePointer<UInt8>, count: Int, tag: UnsafeMutablePointer<UInt8>) -> Bool {
        var written: Int32 = 0
        guard EVP_DecryptInit_ex(cipher, nil, nil, nil, iv) == 1,
              EVP_DecryptUpdate(cipher, nil, &written, aad, Int32(aadCount)) == 1 else { return false }
        if let aad2, aad2Count > 0 {
            guard EVP_DecryptUpdate(cipher, nil, &written, aad2, Int32(aad2Count)) == 1 else { return false }
        }
        if count > 0 {
            guard EVP_DecryptUpdate(cipher, data, &written, data, Int32(count)) == 1 else { return false }
        }
        return EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1
            && EVP_DecryptFinal_ex(cipher, data.advanced(by: count), &written) > 0
    }

    /// HMAC-SHA1 of `a` ‖ `b` into `digest` (20 bytes).
    @inline(__always)
    func authenticate(_ a: UnsafeRawPointer, count aCount: Int, _ b: UnsafeRawPointer, count bCount: Int) {
        work.pointee = inner.pointee
        giaoban_sha1_update(work, a, aCount)
        if bCount > 0 { giaoban_sha1_update(work, b, bCount) }
        giaoban_sha1_final(digest, work)
        work.pointee = outer.pointee
        giaoban_sha1_update(work, digest, 20)
        giaoban_sha1_final(digest, work)
    }

    /// Whether the first `count` bytes of `digest` equal `tag`, in constant time.
    @inline(__always)
    func digestMatches(_ tag: UnsafeRawPointer, count: Int) -> Bool {
        CRYPTO_memcmp(digest, tag, count) == 0
    }
}
