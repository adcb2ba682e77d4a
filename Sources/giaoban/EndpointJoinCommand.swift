import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanCrypto
import Logging

/// `giaoban endpoint join`: takes a seat in a meeting room, publishes over the room socket
/// and watches the chair and the active speaker (or what `--watch` says), following the roster.
struct EndpointJoin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Join a meeting room: publish the synthetic source (or files) and watch the chair and the active speaker."
    )

    @Option(help: "The control plane, e.g. http://127.0.0.1:8080 or https://relay.example:8443 (the room socket is then wss://).")
    var server = "http://127.0.0.1:8080"

    @Option(name: .customLong("fallback-url"),
            help: "Another node of the same cluster (repeatable): tried when --server cannot be reached; the nodes the room lists are added (docs/postgresql.md, \"Meetings across nodes\").")
    var fallbackURLs: [String] = []

    @OptionGroup var trust: TrustOptions

    @OptionGroup var mediaPath: MediaPathOptions

    @Option(help: "The meeting id (see POST /api/meetings).")
    var meeting: Int64

    @Option(help: "The bearer token (see `giaoban token`): its subject is our seat.")
    var token: String

    @Option(help: "Whom to watch, comma-separated: chair, speaker, all, none, or subjects.")
    var watch = "chair,speaker"

    @Flag(help: "Do not publish (watch only).")
    var noPublish = false

    @Flag(help: "Watch with one receive connection per watched participant (subscribe), instead of everything on the one connection the relay offers and renegotiates (docs/protocol.md, \"One connection down\").")
    var perStream = false

    @OptionGroup var output: OutputOptions

    @OptionGroup var media: PublishOptions

    func validate() throws {
        guard meeting > 0 else { throw ValidationError("--meeting must be a positive meeting id") }
        guard WatchPolicy(parsing: watch) != nil else { throw ValidationError("--watch needs chair, speaker, all, none or subjects") }
        if let bad = fallbackURLs.first(where: { !$0.hasPrefix("http://") && !$0.hasPrefix("https://") }) {
            throw ValidationError("--fallback-url must be an http:// or https:// base URL, not '\(bad)'")
        }
    }

    func run() async throws {
        let (videoSource, audioSource, described) = try media.sources()
        try checkTLS()
        let context: DTLSContext
        do { context = try DTLSContext(certificate: DTLSCertificate()) } catch {
            throw fail(EndpointFailure("cannot create the DTLS certificate: \(error)"))
        }
        var logger = Logger(label: "giaoban.endpoint")
        logger.logLevel = .warning
        let room = RoomClient(server: server, meeting: meeting, token: token, caFile: trust.path, fallbackServers: fallbackURLs, logger: logger)
        var settings = RoomEndpoint.Settings()
        settings.publish = !noPublish
        settings.watch = WatchPolicy(parsing: watch) ?? WatchPolicy()
        settings.downlink = !perStream
        settings.width = media.size(of: videoSource).width
        settings.height = media.size(of: videoSource).height
        settings.framesPerSecond = media.fps
        settings.bitrateKbps = media.bitrate
        settings.codec = media.codec == "vp9" ? .vp9 : .vp8
        settings.toneFrequency = media.tone
        settings.toneLevel = media.toneLevelDbov
        settings.simulcastRIDs = ClientOffer.simulcastRIDs(count: media.simulcast)
        settings.grain = media.grain
        settings.transport = mediaPath.transport
        do { settings.turn = try mediaPath.turnServer(url: server, token: token, caFile: trust.path) } catch { throw fail(error) }
        let endpoint = RoomEndpoint(room: room, settings: settings, context: context, video: videoSource, audio: audioSource)
        endpoint.start()
        let start = ContinuousClock.now
        // Seated within 10 s, or a clear reason.
        while endpoint.status.room.joins == 0 && endpoint.status.room.ended == nil && ContinuousClock.now - start < .seconds(10) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let seated = endpoint.status.room
        guard seated.joins > 0 else {
            await endpoint.stop()
            throw fail(EndpointFailure(explain(seated.ended)))
        }
        output.status("joined meeting \(meeting) as \(seated.you) (\(seated.role)) at \(server)"
                      + (noPublish ? "" : ": publishing \(described)") + "; watching \(watch)" + (perStream ? " (a connection per participant)" : " on one downlink"))
        let deadline = start + .milliseconds(Int(output.duration * 1000))
        var previous = endpoint.status
        while ContinuousClock.now < deadline && endpoint.status.room.ended == nil {
            try? await Task.sleep(for: min(.seconds(1), deadline - ContinuousClock.now))
            let now = endpoint.status
            output.status(Self.line(now, previous))
            previous = now
        }
        let final = endpoint.status
        await endpoint.stop()
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        output.summary(Self.summary(final, seconds: seconds))
        if let ended = final.room.ended { throw fail(EndpointFailure("the room ended for us: \(ended)")) }
    }

    /// One actionable line for a room that never seated us.
    /// For an https:// (wss://) control plane, one `GET /healthz` first: a certificate the
    /// room socket would refuse is then reported with its reason, not as a missing seat.
    func checkTLS() throws {
        var url = server
        if url.hasPrefix("wss://") { url = "https://" + url.dropFirst("wss://".count) }
        guard url.hasPrefix("https://") else { return }
        do {
            _ = try HTTPClient(baseURL: url, caFile: trust.path).request("GET", "/healthz")
        } catch where error.reason == .tls {
            let hint = error.message.hasPrefix("certificate verify failed") && trust.path == nil
                ? "pass the CA that signed it with --ca-file" : "check --ca-file and that the certificate names the host in --server"
            throw fail(EndpointFailure("the TLS connection to \(server) failed (\(error.message)); \(hint)"))
        } catch {
            return  // unreachable or refused: the room socket reports it
        }
    }

    func explain(_ ended: String?) -> String {
        guard let ended else {
            return "no seat in meeting \(meeting) within 10 s: cannot reach the room at \(server); check that `giaoban serve` runs there"
        }
        if ended.contains("token") {
            return "the room refused the token (\(ended)); issue one with `giaoban token` for a chair, admin, commune or observer"
        }
        return "the room refused us: \(ended)"
    }

    /// The status line: room, publishing, and each watched participant over the last second.
    static func line(_ now: RoomEndpoint.Status, _ previous: RoomEndpoint.Status) -> String {
        var parts = ["room: \(now.room.participants.count) in the roster, speaker \(now.room.speaker ?? "-")"
                     + (now.room.mutedByChair ? ", muted by the chair" : "")]
        if let p = now.media.publisher {
            let before = previous.media.publisher ?? EndpointPublisher.Stats()
            parts.append("out \(kbps(p.bytesSent - before.bytesSent, over: 1)) kbit/s \(p.videoFrames - before.videoFrames) fps")
        }
        for participant in now.watching.sorted() {
            let w = now.media.watched[participant] ?? WatchedCounts()
            let b = previous.media.watched[participant] ?? WatchedCounts()
            parts.append("\(participant): \(w.framesDecoded - b.framesDecoded) fps \(w.width)x\(w.height), "
                         + "\(w.audioPackets - b.audioPackets) audio packets")
        }
        if now.failures > previous.failures, let reason = now.lastFailure { parts.append("failed: \(reason)") }
        return parts.joined(separator: "; ")
    }

    /// The summary: the room view, what we published, and per watched participant.
    static func summary(_ s: RoomEndpoint.Status, seconds: Double) -> [(String, any Sendable)] {
        let p = s.media.publisher ?? EndpointPublisher.Stats()
        var watched: [String: [String: any Sendable]] = [:]
        for (participant, w) in s.media.watched {
            watched[participant] = ["framesDecoded": w.framesDecoded, "audioPackets": w.audioPackets, "audioFrames": w.audioFrames,
                                    "packetsReceived": w.packetsReceived, "width": w.width, "height": w.height,
                                    "connections": w.connections, "watching": w.watching]
        }
        return [
            ("meeting", s.room.meeting), ("you", s.room.you), ("role", s.room.role), ("seconds", (seconds * 10).rounded() / 10),
            ("rosterSize", s.room.participants.count), ("roster", s.room.participants.map(\.subject)),
            ("speaker", s.room.speaker ?? ""), ("speakerChanges", s.room.speakerChanges),
            ("mutedByChair", s.room.mutedByChair), ("mutedEvents", s.room.mutedEvents),
            ("unmuteRequests", s.room.unmuteRequests), ("rosterUpdates", s.room.rosterUpdates),
            ("reconnects", max(0, s.room.joins - 1)), ("videoFrames", p.videoFrames), ("audioFrames", p.audioFrames),
            ("packetsSent", p.packetsSent), ("averageKbps", kbps(p.bytesSent, over: seconds)),
            ("watched", watched), ("downlinks", s.media.downlinks), ("downlinkOffers", s.media.downlinkOffers),
            ("failures", s.failures), ("lastFailure", s.lastFailure ?? ""),
            ("server", s.room.server), ("node", s.room.node), ("nodeChanges", s.room.nodeChanges), ("moves", s.room.moves),
            ("ended", s.room.ended ?? "duration reached"),
        ]
    }
}
