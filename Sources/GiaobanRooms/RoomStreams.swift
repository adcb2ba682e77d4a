import GiaobanCrypto

/// The names of a meeting's media streams.
package enum RoomStreams {
    /// The media stream a participant publishes on: `m<meeting>-<subject>` for a subject of up
    /// to 48 letters, digits and '-'; any other subject gets `m<meeting>-_<32 hex digits>` of
    /// its SHA-256-based digest. The two forms cannot meet ('_' never starts a plain subject),
    /// so two subjects never share a stream.
    package static func name(meeting: Int64, subject: String) -> String {
        let plain = (1...48).contains(subject.utf8.count) && subject.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
        if plain { return "m\(meeting)-\(subject)" }
        let digest = HMACSHA256.authenticationCode(key: Array("giaoban room stream".utf8), message: Array(subject.utf8))
        return "m\(meeting)-_" + digest.prefix(16).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }
}
