import GiaobanClient
import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanWire
import Testing

@Suite("Downlink offer on the endpoint's side: read the relay's offer, write an answer the relay accepts")
struct DownlinkOfferTests {
    @Test("the tracks of the offer, and an answer that receives every sending m-line")
    func roundTrip() throws {
        let relayFingerprint = CertificateFingerprint(algorithm: "sha-256", digest: [UInt8](repeating: 0x11, count: 32))
        let local = LocalTransport(address: "127.0.0.1", port: 40_000, fingerprint: relayFingerprint)
        var lines = DownlinkNegotiation.initialLines()
        _ = DownlinkNegotiation.reconcile(&lines, wanted: [.init(stream: "m3-a", kind: .audio, codec: "opus"),
                                                           .init(stream: "m3-a", kind: .video, codec: "VP8"),
                                                           .init(stream: "m3-b", kind: .video, codec: "VP9")])
        let relayICE = ICECredentials.random()
        let offer = DownlinkNegotiation.offer(lines: lines, ice: relayICE, local: local, sessionID: 5, version: 2).serialize()

        let read = try DownlinkOffer(sdp: offer)
        #expect(read.relay.ice == relayICE)
        #expect(read.relay.fingerprint == relayFingerprint)
        #expect(read.relay.dtlsRole == .client, "actpass: the endpoint is the DTLS client")
        #expect(read.relay.candidate == RelayAnswer.address("127.0.0.1", port: 40_000))
        #expect(read.tracks.map(\.mid) == ["1", "2", "3"])
        #expect(read.tracks.map(\.stream) == ["m3-a", "m3-a", "m3-b"])
        #expect(read.tracks.map(\.ssrc) == [lines[1].ssrc, lines[2].ssrc, lines[3].ssrc])
        #expect(read.tracks.map(\.codec) == ["opus", "VP8", "VP9"])

        let ours = ICECredentials.random()
        let ourFingerprint = CertificateFingerprint(algorithm: "sha-256", digest: [UInt8](repeating: 0x22, count: 32))
        let answer = read.answer(ice: ours, fingerprint: ourFingerprint, host: "127.0.0.1", port: 50_000)
        let parsed: SessionDescription
        do { parsed = try SessionDescription(parsing: answer) } catch {
            Issue.record("the answer does not parse: \(error)\n\(answer)")
            throw error
        }
        let accepted = try DownlinkNegotiation.read(answer: parsed, lines: lines)
        #expect(accepted.accepted == ["1", "2", "3"])
        #expect(accepted.remoteICE == ours)
        #expect(accepted.remoteFingerprint == ourFingerprint)
        #expect(!accepted.dtlsClient)
        #expect(accepted.transportCCExtensionID == 3)
        #expect(accepted.audioLevelExtensionID == 1)
        #expect(parsed.media.map(\.direction) == [.inactive, .recvonly, .recvonly, .recvonly])
    }

    @Test("a malformed offer is a clear error")
    func malformed() {
        #expect(throws: ClientError.self) { try DownlinkOffer(sdp: "v=0 nonsense") }
    }
}
