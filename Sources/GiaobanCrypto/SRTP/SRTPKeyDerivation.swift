internal import COpenSSL

/// The session keys of one SRTP/SRTCP direction (RFC 3711 §4.3), as `SRTPContext` uses them.
package struct SRTPSessionKeys: Sendable {
    /// SRTP encryption key (label 0).
    package var rtpCipherKey: [UInt8]
    /// SRTP authentication key (label 1): 20 bytes for HMAC-SHA1, empty for GCM.
    package var rtpAuthKey: [UInt8]
    /// SRTP session salt (label 2): 14 bytes for AES-CM, 12 for GCM.
    package var rtpSalt: [UInt8]
    /// SRTCP encryption key (label 3).
    package var rtcpCipherKey: [UInt8]
    /// SRTCP authentication key (label 4).
    package var rtcpAuthKey: [UInt8]
    /// SRTCP session salt (label 5).
    package var rtcpSalt: [UInt8]

    /// Session keys given directly (the RFC 7714 §16 and §17 vectors are at this level).
    package init(rtpCipherKey: [UInt8], rtpAuthKey: [UInt8], rtpSalt: [UInt8],
                 rtcpCipherKey: [UInt8], rtcpAuthKey: [UInt8], rtcpSalt: [UInt8]) {
        self.rtpCipherKey = rtpCipherKey
        self.rtpAuthKey = rtpAuthKey
        self.rtpSalt = rtpSalt
        self.rtcpCipherKey = rtcpCipherKey
        self.rtcpAuthKey = rtcpAuthKey
        self.rtcpSalt = rtcpSalt
    }

    /// Derives the six session keys from a master key and salt with key derivation rate 0
    /// (RFC 3711 §4.3.1; RFC 7714 §11 uses the same PRF for GCM, the 12-byte salt padded).
    package init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8]) throws(SRTPError) {
        guard masterKey.count == profile.keyLength, masterSalt.count == profile.saltLength else {
            throw SRTPError(.badKey)
        }
        let authLength = profile == .aeadAES128GCM ? 0 : 20
        func derive(_ label: UInt8, _ length: Int) throws(SRTPError) -> [UInt8] {
            guard length > 0 else { return [] }
            guard let bytes = SRTPKeyDerivation.derive(masterKey: masterKey, masterSalt: masterSalt,
                                                       label: label, length: length) else {
                throw SRTPError(.failed)
            }
            return bytes
        }
        rtpCipherKey = try derive(0, profile.keyLength)
        rtpAuthKey = try derive(1, authLength)
        rtpSalt = try derive(2, profile.saltLength)
        rtcpCipherKey = try derive(3, profile.keyLength)
        rtcpAuthKey = try derive(4, authLength)
        rtcpSalt = try derive(5, profile.saltLength)
    }
}

/// The AES-CM pseudo-random function of RFC 3711 §4.3.3 and the key derivation of §4.3.1.
package enum SRTPKeyDerivation {
    /// `length` bytes of the session key with `label` (0…5), key derivation rate 0:
    /// the AES-CM keystream under the master key, starting at IV = (master salt ⊕ label · 2^48) · 2^16.
    package static func derive(masterKey: [UInt8], masterSalt: [UInt8], label: UInt8, length: Int) -> [UInt8]? {
        guard masterKey.count == 16, masterSalt.count <= 14 else { return nil }
        var iv = [UInt8](repeating: 0, count: 16)
        for (i, byte) in masterSalt.enumerated() { iv[i] = byte }  // a 12-byte GCM salt is padded with zeros
        iv[7] ^= label
        return keystream(key: masterKey, iv: iv, length: length)
    }

    /// `length` bytes of AES-128 counter-mode keystream from the 16-byte counter block `iv`
    /// (RFC 3711 §4.1.1; Appendix B.2 checks it).
    package static func keystream(key: [UInt8], iv: [UInt8], length: Int) -> [UInt8]? {
        guard key.count == 16, iv.count == 16, length >= 0, let ctx = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var stream = [UInt8](repeating: 0, count: max(length, 1))
        let ok = key.withUnsafeBufferPointer { k in
            iv.withUnsafeBufferPointer { v in
                stream.withUnsafeMutableBufferPointer { out -> Bool in
                    var written: Int32 = 0
                    return EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nil, k.baseAddress, v.baseAddress) == 1
                        && EVP_EncryptUpdate(ctx, out.baseAddress, &written, out.baseAddress, Int32(length)) == 1
                }
            }
        }
        return ok ? Array(stream.prefix(length)) : nil
    }
}
