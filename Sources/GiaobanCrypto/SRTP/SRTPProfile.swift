/// The DTLS-SRTP protection profiles the relay negotiates (RFC 5764 §4.1.2, RFC 7714 §14.2),
/// in order of preference: GCM first, it is several times cheaper here.
public enum SRTPProfile: String, Sendable, CaseIterable {
    /// SRTP_AEAD_AES_128_GCM (0x0007): 16-byte key, 12-byte salt, 16-byte tag.
    case aeadAES128GCM = "SRTP_AEAD_AES_128_GCM"
    /// SRTP_AES128_CM_HMAC_SHA1_80 (0x0001): 16-byte key, 14-byte salt, 10-byte tag.
    case aes128CMHMACSHA1_80 = "SRTP_AES128_CM_SHA1_80"

    /// The master key length in bytes.
    public var keyLength: Int { 16 }
    /// The master salt length in bytes.
    public var saltLength: Int { self == .aeadAES128GCM ? 12 : 14 }
    /// Bytes appended to each protected RTP packet (the authentication tag).
    public var rtpOverhead: Int { self == .aeadAES128GCM ? 16 : 10 }
    /// Bytes appended to each protected RTCP packet (tag + E-flag/SRTCP index).
    public var rtcpOverhead: Int { rtpOverhead + 4 }
    /// The profile's IANA identifier in the use_srtp extension.
    public var identifier: UInt16 { self == .aeadAES128GCM ? 0x0007 : 0x0001 }
}

/// Which way packets go through an SRTP session.
public enum SRTPDirection: Sendable {
    /// Packets from the peer: unprotect and check replay.
    case inbound
    /// Packets to the peer: protect.
    case outbound
}
