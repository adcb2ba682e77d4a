
/// One direction of SRTP/SRTCP protection (RFC 3711 AES_CM_128_HMAC_SHA1_80, RFC 7714
/// AEAD_AES_128_GCM) for one peer, on OpenSSL's EVP: the same interface as `SRTPSession`,
/// without libsrtp2 and its NSS backend.
///
/// Keys are derived once (RFC 3711 §4.3) and the cipher contexts keyed once; per packet only
/// the IV changes. Protect and unprotect work in place on the caller's buffer and allocate
/// nothing, except when a new SSRC needs a slot. Each SSRC has its own rollover counter
/// (§3.3.1) and replay window (§3.3.2); inbound state is only updated by packets that
/// authenticate. A context is not thread-safe; the media worker that owns the peer owns it.
public final class SRTPContext {
    /// Which way packets go through this context (the same cases as `SRTPSession`).
    public typealias Direction = SRTPDirection

    /// The negotiated protection profile.
    public let profile: SRTPProfile
    /// Whether this context protects (outbound) or unprotects (inbound).
    public let direction: Direction
    let rtp: SRTPTransform
    let rtcp: SRTPTransform
    let streams: SRTPStreamTable
    /// 32 bytes of scratch: the IV (16), the big-endian ROC or SRTCP trailer (4).
    let scratch: UnsafeMutablePointer<UInt8>

    /// Creates a context from a master key and salt (as exported by DTLS, RFC 5764 §4.2).
    /// `replayWindow` is the replay list size in packets per SSRC: a power of two, 64…32768.
    public convenience init(profile: SRTPProfile, direction: Direction, key: [UInt8], salt: [UInt8],
                            replayWindow: Int = 1024) throws(SRTPError) {
        let keys = try SRTPSessionKeys(profile: profile, masterKey: key, masterSalt: salt)
        try self.init(profile: profile, direction: direction, sessionKeys: keys, replayWindow: replayWindow)
    }

    /// Creates a context from session keys already derived (tests with session-level vectors).
    package init(profile: SRTPProfile, direction: Direction, sessionKeys keys: SRTPSessionKeys,
                 replayWindow: Int = 1024) throws(SRTPError) {
        guard replayWindow >= 64, replayWindow <= 32768, replayWindow & (replayWindow - 1) == 0 else {
            throw SRTPError(.failed)
        }
        let gcm = profile == .aeadAES128GCM
        guard let rtp = SRTPTransform(gcm: gcm, cipherKey: keys.rtpCipherKey, authKey: keys.rtpAuthKey, salt: keys.rtpSalt),
              let rtcp = SRTPTransform(gcm: gcm, cipherKey: keys.rtcpCipherKey, authKey: keys.rtcpAuthKey,
                                       salt: keys.rtcpSalt) else {
            throw SRTPError(.badKey)
        }
        self.profile = profile
        self.direction = direction
        self.rtp = rtp
        self.rtcp = rtcp
        streams = SRTPStreamTable(windowSize: replayWindow)
        scratch = .allocate(capacity: 32)
        scratch.initialize(repeating: 0, count: 32)
    }

    deinit { scratch.deallocate() }

    /// The number of SSRCs this context keeps state for.
    public var streamCount: Int { streams.count }

    /// The rollover counter of `ssrc` (RFC 3711 §3.3.1), or nil if the SSRC is unknown here.
    public func rolloverCounter(ssrc: UInt32) -> UInt32? {
        streams.slot(of: ssrc).map { UInt32(truncatingIfNeeded: streams.states[$0].rtpIndex >> 16) }
    }

    /// Sets the last SRTCP index sent for `ssrc` (known-answer tests start mid-stream).
    package func setLastSRTCPIndex(_ index: UInt32, ssrc: UInt32) {
        let slot = streams.slotAdding(ssrc)
        streams.states[slot].rtcpIndex = UInt64(index)
    }
}

// MARK: - Byte helpers

extension UnsafeMutablePointer where Pointee == UInt8 {
    @inline(__always) func srtpLoad32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }
    @inline(__always) func srtpLoad16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }
    @inline(__always) func srtpStore32(_ value: UInt32, _ offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 24)
        self[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        self[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 3] = UInt8(truncatingIfNeeded: value)
    }
    @inline(__always) func srtpStore16(_ value: UInt16, _ offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }
}
