internal import COpenSSL

/// The SRTP master keys and salts a DTLS-SRTP handshake yields (RFC 5764 §4.2), already
/// split into this endpoint's sending keys (`local*`) and the peer's (`remote*`).
///
/// Protect outgoing packets with `localKey`/`localSalt`, unprotect incoming ones with
/// `remoteKey`/`remoteSalt`. `description` never prints the keys.
public struct SRTPKeyingMaterial: Sendable, CustomStringConvertible {
    /// The protection profile the server picked from the use_srtp extension (RFC 5764 §4.1.2).
    public let profile: SRTPProfile
    /// The master key for packets this endpoint sends.
    public let localKey: [UInt8]
    /// The master salt for packets this endpoint sends.
    public let localSalt: [UInt8]
    /// The master key for packets the peer sends.
    public let remoteKey: [UInt8]
    /// The master salt for packets the peer sends.
    public let remoteSalt: [UInt8]

    /// Creates keying material from its parts (tests and other key sources).
    public init(profile: SRTPProfile, localKey: [UInt8], localSalt: [UInt8],
                remoteKey: [UInt8], remoteSalt: [UInt8]) {
        self.profile = profile
        self.localKey = localKey
        self.localSalt = localSalt
        self.remoteKey = remoteKey
        self.remoteSalt = remoteSalt
    }

    /// The profile only: keys never reach a log.
    public var description: String { "SRTPKeyingMaterial(\(profile.rawValue), keys redacted)" }

    /// The exporter label of RFC 5764 §4.2.
    static let exporterLabel = "EXTRACTOR-dtls_srtp"

    /// Reads the negotiated profile of a finished handshake and exports its keys.
    static func export(from ssl: OpaquePointer, role: DTLSRole) throws(DTLSError) -> SRTPKeyingMaterial {
        guard let selected = SSL_get_selected_srtp_profile(ssl) else {
            throw DTLSError(.noSRTPProfile, "the peer did not negotiate use_srtp")
        }
        let id = selected.pointee.id
        guard let profile = SRTPProfile.allCases.first(where: { UInt($0.identifier) == id }) else {
            throw DTLSError(.noSRTPProfile, "unsupported SRTP profile 0x\(String(id, radix: 16))")
        }
        let keyLength = profile.keyLength, saltLength = profile.saltLength
        var block = [UInt8](repeating: 0, count: 2 * (keyLength + saltLength))
        let label = Array(exporterLabel.utf8)
        let ok = block.withUnsafeMutableBufferPointer { out in
            label.withUnsafeBufferPointer { l in
                l.withMemoryRebound(to: CChar.self) { l in
                    SSL_export_keying_material(ssl, out.baseAddress, out.count, l.baseAddress, l.count, nil, 0, 0)
                }
            }
        }
        guard ok == 1 else { throw DTLSError(.openssl, "SSL_export_keying_material failed") }
        // client_write_SRTP_master_key | server_write_SRTP_master_key |
        // client_write_SRTP_master_salt | server_write_SRTP_master_salt (RFC 5764 §4.2)
        let clientKey = Array(block[0..<keyLength])
        let serverKey = Array(block[keyLength..<2 * keyLength])
        let clientSalt = Array(block[2 * keyLength..<2 * keyLength + saltLength])
        let serverSalt = Array(block[(2 * keyLength + saltLength)...])
        block.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
        switch role {
        case .client:
            return SRTPKeyingMaterial(profile: profile, localKey: clientKey, localSalt: clientSalt,
                                      remoteKey: serverKey, remoteSalt: serverSalt)
        case .server:
            return SRTPKeyingMaterial(profile: profile, localKey: serverKey, localSalt: serverSalt,
                                      remoteKey: clientKey, remoteSalt: clientSalt)
        }
    }
}
