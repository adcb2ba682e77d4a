import Foundation
import GiaobanClient
import GiaobanCrypto
import GiaobanICE
import GiaobanWire
import GiaobanTransport

/// Janus's VideoRoom as the forwarder of a broadcast run, driven over its REST API by the
/// same load generator: the publisher `join`s the configured room and `publish`es the
/// client's offer (Janus answers); each subscriber `join`s with the publisher's feed
/// (Janus offers, `JanusAnswer` answers) and `start`s. Janus runs ICE-lite, so the client
/// connects to it exactly as to the relay: controlling checks, then DTLS, then SRTP.
///
/// Janus has no counter of forwarded packets without its admin API, so a step counts the
/// RTP packets the subscribers received (loss is reported beside it).
final class JanusTarget: ForwarderTarget {
    let janus: JanusProcess
    private let api: JanusAPI
    private var feed: UInt64 = 0
    private let host = "127.0.0.1"

    init(process: JanusProcess) throws {
        janus = process
        do { api = try JanusAPI(baseURL: process.baseURL) } catch {
            process.stop()
            throw error
        }
    }

    var process: any MeasuredProcess { janus }

    func joinPublisher(context: DTLSContext) throws -> ClientConnection {
        let handle = try api.attach()
        let joined = try api.message(handle, ["request": "join", "ptype": "publisher", "room": janus.room, "display": "bench"])
        guard let id = JanusAPI.id(joined.data["id"]) else { throw JanusAPI.Failure(description: "join: no publisher id in \(joined.data)") }
        feed = id
        let socket = try UDPSocket(host: host)
        let ice = ICECredentials.random()
        let offer = ClientOffer(mode: .publish(audioSSRC: PacedPublisher.audioSSRC, videoSSRC: PacedPublisher.videoSSRC),
                                ice: ice, fingerprint: context.fingerprint, host: host, port: socket.port)
        let published = try api.message(handle, ["request": "publish"],
                                         jsep: ["type": "offer", "sdp": offer.sdp])
        guard let sdp = published.jsep?["sdp"] as? String else { throw JanusAPI.Failure(description: "publish: no JSEP answer") }
        let connection = ClientConnection(socket: socket,
                                          peer: try ClientPeer(localICE: ice, context: context, answer: RelayAnswer(sdp: sdp), now: .now))
        try connection.connect()
        // A subscriber that joins before the publisher's webrtcup gets "No such feed" (428).
        try api.webrtcUp(handle)
        return connection
    }

    func joinSubscriber(context: DTLSContext) throws -> ClientConnection {
        let handle = try api.attach()
        let attached = try api.message(handle, ["request": "join", "ptype": "subscriber", "room": janus.room,
                                                "streams": [["feed": feed]]])
        guard let offerSDP = attached.jsep?["sdp"] as? String else { throw JanusAPI.Failure(description: "join (subscriber): no JSEP offer") }
        let offer = try SessionDescription(parsing: offerSDP)
        var janusSide = try RelayAnswer(offer)  // Janus's credentials, candidate and fingerprint
        // The client takes the DTLS server role (a=setup:passive): Janus starts the handshake once
        // its own check succeeded, whereas a ClientHello sent on our first success response would
        // reach Janus before that, be dropped, and be retransmitted only a second later.
        janusSide.dtlsRole = .server
        let socket = try UDPSocket(host: host)
        let ice = ICECredentials.random()
        let answer = try JanusAnswer.sdp(answering: offer, role: janusSide.dtlsRole, ice: ice, fingerprint: context.fingerprint,
                                         host: host, port: socket.port)
        try api.message(handle, ["request": "start"], jsep: ["type": "answer", "sdp": answer])
        let connection = ClientConnection(socket: socket, peer: try ClientPeer(localICE: ice, context: context, answer: janusSide, now: .now))
        try connection.connect()
        return connection
    }

    func meter(receiver: ReceiveLoop) -> ForwarderMeter {
        ForwarderMeter(cpuSeconds: { [janus] in janus.threadsCPUSeconds },
                       forwarded: { Double(receiver.rtpReceived.load(ordering: .relaxed)) })
    }

    func leave() { api.destroy() }

    func stop() { janus.stop() }
}

extension Broadcast {
    /// Publisher → Janus VideoRoom → N subscribers, when Janus is installed.
    func runJanus(binary: String) -> ForwarderRun {
        progress("janus: starting \(binary) (VideoRoom, HTTP API on 127.0.0.1, ICE-lite)")
        return runForwarder("janus", counts: janusCounts) { try JanusTarget(process: JanusProcess(binary: binary)) }
    }
}
