internal import CSRTP
public import GiaobanCrypto

/// One direction of SRTP/SRTCP protection (RFC 3711, RFC 7714) for one peer, backed by
/// libsrtp2: either `.inbound` (unprotect, replay protection) or `.outbound` (protect).
///
/// Protect and unprotect work in place on the caller's buffer and do not allocate.
/// A session is not thread-safe; the media worker that owns the peer owns its sessions.
public final class SRTPSession {
    /// Which way packets go through this session.
    public typealias Direction = SRTPDirection

    /// The negotiated protection profile.
    public let profile: SRTPProfile
    private let session: OpaquePointer

    private static let initialized: Bool = srtp_init() == srtp_err_status_ok

    /// Creates a session from a master key and salt (as exported by DTLS, RFC 5764 §4.2).
    /// `replayWindow` is the replay list size in packets (libsrtp2 accepts 64…32768).
    public init(profile: SRTPProfile, direction: Direction, key: [UInt8], salt: [UInt8],
                replayWindow: Int = 1024) throws(SRTPError) {
        guard Self.initialized else { throw SRTPError(.failed) }
        guard key.count == profile.keyLength, salt.count == profile.saltLength else { throw SRTPError(.badKey) }
        self.profile = profile
        var policy = srtp_policy_t()
        switch profile {
        case .aeadAES128GCM:
            giaoban_srtp_policy_aes_gcm_128(&policy.rtp)
            giaoban_srtp_policy_aes_gcm_128(&policy.rtcp)
        case .aes128CMHMACSHA1_80:
            giaoban_srtp_policy_aes_cm_128_hmac_sha1_80(&policy.rtp)
            giaoban_srtp_policy_aes_cm_128_hmac_sha1_80(&policy.rtcp)
        }
        policy.ssrc.type = direction == .inbound ? ssrc_any_inbound : ssrc_any_outbound
        policy.window_size = UInt(replayWindow)
        // Retransmissions answering NACKs resend the same sequence number with the same payload.
        policy.allow_repeat_tx = direction == .outbound ? 1 : 0
        var material = key + salt
        var created: OpaquePointer? = nil
        let status = material.withUnsafeMutableBufferPointer { p -> srtp_err_status_t in
            policy.key = p.baseAddress
            return srtp_create(&created, &policy)
        }
        guard status == srtp_err_status_ok, let session = created else {
            throw SRTPError(.failed, status: Int32(status.rawValue))
        }
        self.session = session
    }

    deinit { srtp_dealloc(session) }

    /// Encrypts and authenticates the RTP packet in `buffer[0..<length]` in place and returns
    /// the new length; `buffer` must have `profile.rtpOverhead` spare bytes after `length`.
    @inline(__always)
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length + profile.rtpOverhead <= buffer.count, length >= 12 else { throw SRTPError(.noRoom) }
        var len = Int32(length)
        let status = srtp_protect(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw Self.error(status) }
        return Int(len)
    }

    /// Verifies and decrypts the SRTP packet in `buffer[0..<length]` in place; returns the
    /// plain RTP length.
    @inline(__always)
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length <= buffer.count, length >= 12 + profile.rtpOverhead else { throw SRTPError(.malformed) }
        var len = Int32(length)
        let status = srtp_unprotect(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw Self.error(status) }
        return Int(len)
    }

    /// Protects the RTCP compound packet in `buffer[0..<length]` in place (SRTCP); `buffer`
    /// needs `profile.rtcpOverhead` spare bytes.
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length + profile.rtcpOverhead <= buffer.count, length >= 8 else { throw SRTPError(.noRoom) }
        var len = Int32(length)
        let status = srtp_protect_rtcp(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw Self.error(status) }
        return Int(len)
    }

    /// Verifies and decrypts the SRTCP packet in `buffer[0..<length]` in place; returns the
    /// plain RTCP length.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length <= buffer.count, length >= 8 + profile.rtcpOverhead else { throw SRTPError(.malformed) }
        var len = Int32(length)
        let status = srtp_unprotect_rtcp(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw Self.error(status) }
        return Int(len)
    }

    private static func error(_ status: srtp_err_status_t) -> SRTPError {
        let reason: SRTPError.Reason = switch status {
        case srtp_err_status_auth_fail, srtp_err_status_cipher_fail: .authenticationFailed
        case srtp_err_status_replay_fail: .replayed
        case srtp_err_status_replay_old: .tooOld
        case srtp_err_status_bad_param, srtp_err_status_parse_err: .malformed
        default: .failed
        }
        return SRTPError(reason, status: Int32(status.rawValue))
    }
}
