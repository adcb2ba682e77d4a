import Foundation
import GiaobanClient
import GiaobanCrypto
@testable import GiaobanServer
import Logging
import Testing
import GiaobanAuth

@Suite("Meeting room with endpoint clients receiving on one downlink each")
struct MeetingRoomDownlinkEndpointTests {
    /// A chair and five communes, every one a `RoomEndpoint` in downlink mode watching
    /// everyone: each receives all the others' audio and video on one connection the relay
    /// offered. Then a sixth commune joins and publishes (everyone's downlink is renegotiated
    /// to carry it), and one commune leaves (its tracks leave everyone's downlink). Media is
    /// small (160×120 VP8 at 5 fps and an Opus tone) to fit a debug build on 2 cores.
    @Test("six endpoints on downlinks: everyone decodes everyone on one connection; a late publisher is offered, a leaver removed",
          .timeLimit(.minutes(2)))
    func downlinks() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let context = try DTLSContext(certificate: DTLSCertificate())
        try await RoomServer.run(fixture, loudestAudio: 0) { room, _ in
            let (server, media, meeting) = (room.baseURL, room.media, room.meeting)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            func endpoint(_ subject: String, _ role: Role) -> RoomEndpoint {
                var settings = MeetingRoomEndpointTests.smallMedia()
                settings.downlink = true
                settings.watch = WatchPolicy(chair: false, speaker: false, everyone: true)
                let room = GiaobanClient.RoomClient(server: server, meeting: meeting, token: HubFixture.token(role, subject), logger: logger)
                return RoomEndpoint(room: room, settings: settings, context: context)
            }
            var all = ["officer": endpoint("officer", .chair)]
            let communes = ["xa-01", "xa-02", "xa-03", "xa-04", "xa-05"]
            for subject in communes { all[subject] = endpoint(subject, .commune) }
            for (subject, e) in all { e.start(name: subject) }
            let late = endpoint("xa-06", .commune)
            do {
                try await Self.scenario(all: all, late: late, media: media)
            } catch {
                for (subject, e) in all.sorted(by: { $0.key < $1.key }) {
                    let s = e.status
                    print("\(subject): downlinks \(s.media.downlinks) offers \(s.media.downlinkOffers) unknown \(s.media.downlinkUnknownPackets) ended \(s.media.downlinkEnded ?? "-") failures \(s.failures) \(s.lastFailure ?? "") watching \(s.watching.sorted()) frames \(s.media.watched.mapValues { "\($0.framesDecoded)/\($0.audioFrames)/\($0.packetsReceived)" })")
                }
                for e in all.values { await e.stop() }
                await late.stop()
                throw error
            }
            for e in all.values { await e.stop() }
            await late.stop()
        }
    }

    /// Frames decoded per (watcher, watched) pair.
    static func frames(_ all: [String: RoomEndpoint]) -> [String: [String: Int]] {
        all.mapValues { $0.status.media.watched.mapValues(\.framesDecoded) }
    }

    static func scenario(all: [String: RoomEndpoint], late: RoomEndpoint, media: MediaServer) async throws {
        let subjects = Set(all.keys)
        // Everyone decodes everyone else's video and hears their audio, on one downlink.
        try await eventually("every endpoint decodes 10 frames of every other one", within: 45) {
            all.allSatisfy { subject, e in
                let watched = e.status.media.watched
                return subjects.subtracting([subject]).allSatisfy { (watched[$0]?.framesDecoded ?? 0) >= 10 && (watched[$0]?.audioFrames ?? 0) >= 10 }
            }
        }
        for (subject, e) in all {
            let status = e.status
            #expect(status.media.downlinks == 1, "\(subject): one downlink connection, got \(status.media.downlinks)")
            #expect(status.media.watched.values.allSatisfy { $0.connections <= 1 }, "\(subject): no per-stream connections")
            #expect(status.failures == 0, "\(subject): \(status.lastFailure ?? "")")
        }
        let peers = await media.ask(.peerCount)
        #expect(peers == 12, "6 publish connections and 6 downlinks, nothing per watched stream; got \(peers)")

        // A late commune publishes: every downlink is offered its tracks and decodes them.
        let offersBefore = all.mapValues { $0.status.media.downlinkOffers }
        late.start(name: "xa-06")
        try await eventually("everyone decodes xa-06, and xa-06 decodes everyone", within: 45) {
            all.values.allSatisfy { ($0.status.media.watched["xa-06"]?.framesDecoded ?? 0) >= 5 }
                && subjects.allSatisfy { (late.status.media.watched[$0]?.framesDecoded ?? 0) >= 5 }
        }
        for (subject, e) in all {
            #expect(e.status.media.downlinkOffers > offersBefore[subject] ?? 0, "\(subject): a new offer was applied")
            #expect(e.status.media.downlinks == 1, "\(subject): still the same connection")
        }

        // xa-05 leaves: its tracks leave everyone's downlink; the others keep flowing.
        await all["xa-05"]!.stop()
        let stayers = all.filter { $0.key != "xa-05" }
        try await eventually("xa-05 is gone from every downlink", within: 30) {
            stayers.values.allSatisfy { !$0.status.watching.contains("xa-05") && $0.status.media.watched["xa-05"]?.watching != true }
        }
        let before = frames(stayers)
        try await Task.sleep(for: .seconds(2))
        let after = frames(stayers)
        for (subject, watched) in after {
            for (other, count) in watched where other != "xa-05" && other != subject {
                #expect(count > before[subject]?[other] ?? 0, "\(subject) still decodes \(other) after xa-05 left")
            }
            #expect(watched["xa-05"] == before[subject]?["xa-05"], "\(subject): nothing more from xa-05")
        }
        let downlinkStreams = await media.ask(.audioActivity).map(\.stream)
        #expect(!downlinkStreams.contains { $0.hasSuffix("xa-05") }, "xa-05's stream is gone from the relay")
    }
}
