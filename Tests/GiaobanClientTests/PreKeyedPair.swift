import GiaobanClient
import GiaobanCrypto
import GiaobanTransport

extension ClientConnection {
    /// Two connections on 127.0.0.1 joined by pre-keyed SRTP (no ICE, no DTLS, no relay):
    /// the second stands in for the relay, so a test controls every packet the first gets.
    static func preKeyedPair() throws -> (ClientConnection, ClientConnection) {
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255) } }
        let keys = SRTPKeyingMaterial(profile: .aeadAES128GCM, localKey: bytes(16), localSalt: bytes(12),
                                      remoteKey: bytes(16), remoteSalt: bytes(12))
        let mirrored = SRTPKeyingMaterial(profile: keys.profile, localKey: keys.remoteKey, localSalt: keys.remoteSalt,
                                          remoteKey: keys.localKey, remoteSalt: keys.localSalt)
        let a = try UDPSocket(), b = try UDPSocket()
        return (ClientConnection(socket: a, peer: try ClientPeer(keys: keys, relayAddress: b.localAddress)),
                ClientConnection(socket: b, peer: try ClientPeer(keys: mirrored, relayAddress: a.localAddress)))
    }
}
