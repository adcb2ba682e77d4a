import Foundation
import GiaobanCrypto
@testable import GiaobanServer
import Hummingbird
import HummingbirdTesting
import Logging
import GiaobanHub

/// Meeting rooms over an in-process relay (`MediaServer` on 127.0.0.1) and a fixture's hub,
/// served live on a free port, with one meeting created by "officer".
struct RoomServer: Sendable {
    let media: MediaServer
    let sessions: RelaySessions
    let rooms: MeetingRooms
    let meeting: Int64
    let port: Int

    /// The control plane's base URL.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Builds the server over `fixture`'s hub (forwarding the `loudestAudio` loudest
    /// participants' audio, keeping a dropped socket's seat `seatGrace`,
    /// recording meetings per `recording`), runs `body` against
    /// it, then shuts the relay down; returns the meeting's id.
    @discardableResult
    static func run(_ fixture: HubFixture, loudestAudio: Int = 3, maxSessionsPerSubject: Int = 32, seatGrace: Duration = .seconds(15),
                    recording: MeetingRecordingSettings = .off, _ body: @escaping @Sendable (RoomServer, any TestClientProtocol) async throws -> Void) async throws -> Int64 {
        try await run(hub: fixture.hub, now: fixture.clock.read(), loudestAudio: loudestAudio, maxSessionsPerSubject: maxSessionsPerSubject,
                      seatGrace: seatGrace, recording: recording, body)
    }

    /// The same over any `hub` (another node on a fixture's database); the meeting is created at `now`.
    @discardableResult
    static func run(hub: Hub, now: Int64, loudestAudio: Int = 3, maxSessionsPerSubject: Int = 32, seatGrace: Duration = .seconds(15),
                    recording: MeetingRecordingSettings = .off, _ body: @escaping @Sendable (RoomServer, any TestClientProtocol) async throws -> Void) async throws -> Int64 {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let media = try MediaServer(address: "127.0.0.1", port: 0, announcedAddress: "", certificate: try DTLSCertificate(), logger: logger)
        let sessions = RelaySessions(media: media, tokens: hub.tokens, maxBodyBytes: 65_536,
                                     maxSessionsPerSubject: maxSessionsPerSubject, logger: logger)
        let rooms = MeetingRooms(hub: hub, sessions: sessions, logger: logger, loudestAudio: loudestAudio, seatGrace: seatGrace,
                                 recording: recording)
        var config = GiaobanConfig()
        config.http.port = 0
        let app = ControlPlane.application(config: config, services: .init(sessions: sessions, webRoot: nil, hub: hub, rooms: rooms),
                                           logger: logger)
        let meeting = try await hub.meetings.create(title: "Giao ban", scheduledAt: "2026-11-30T07:30:00+07:00",
                                                     durationMinutes: 60, createdBy: "officer", now: now)
        do {
            try await app.test(.live) { client in
                try await body(RoomServer(media: media, sessions: sessions, rooms: rooms, meeting: meeting, port: client.port ?? 0), client)
            }
        } catch {
            await media.shutdown()
            throw error
        }
        await media.shutdown()
        return meeting
    }
}
