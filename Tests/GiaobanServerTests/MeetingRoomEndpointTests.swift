import Foundation
import GiaobanClient
import GiaobanCrypto
@testable import GiaobanServer
import Logging
import Testing
import GiaobanAuth

/// Waits until `condition` holds, checking every 100 ms for at most `seconds`.
func eventually(_ what: String, within seconds: Double = 30, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !(await condition()) {
        guard ContinuousClock.now < deadline else {
            Issue.record("not within \(seconds) s: \(what)")
            throw TimeoutError(seconds: seconds, what: what)
        }
        try await Task.sleep(for: .milliseconds(100))
    }
}

@Suite("Meeting room with endpoint clients over the room socket")
struct MeetingRoomEndpointTests {
    /// Endpoint settings with media small enough for many endpoints in a debug build on 2
    /// cores: a 160×120 VP8 test pattern at 5 fps (about 60 kbit/s) and an Opus tone.
    static func smallMedia() -> RoomEndpoint.Settings {
        var settings = RoomEndpoint.Settings()
        settings.width = 160
        settings.height = 120
        settings.framesPerSecond = 5
        settings.bitrateKbps = 60
        return settings
    }

    /// One chair and 20 commune endpoints in one room, every one a full `RoomEndpoint`
    /// (room socket, publishing and watching through the in-process relay and hub).
    ///
    /// Media, sized to fit 2 cores in a debug build: everyone publishes a 160×120 VP8 test
    /// pattern at 5 fps (about 60 kbit/s) and an Opus tone. Loudness: xa-01 at −10 dBov (the
    /// clear speaker), xa-02 −20, xa-03 −30, xa-04 −40, the chair −50, the other 16 communes
    /// silent (−127 dBov, voice flag off). Every commune watches the chair and the active
    /// speaker; the chair watches the speaker and xa-01…xa-04, which is where the K loudest
    /// (K = 3) rule is checked in received audio packets, beside the relay's gate flags.
    /// Then the chair mutes xa-02, xa-19 and xa-20 leave, xa-10 reconnects by taking its seat
    /// over (new socket first), and xa-02's socket is dropped outright (it reconnects by itself
    /// within the server's seat grace). Every wait is bounded; measurement windows are 2 s.
    @Test("20 endpoints and a chair: chair and speaker video everywhere, K loudest audio, chair mute, leaves, reconnects",
          .timeLimit(.minutes(2)))
    func twentyEndpoints() async throws {
        let started = ContinuousClock.now
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let communes = (1...20).map { String(format: "xa-%02d", $0) }
        let loud = ["xa-01": -10.0, "xa-02": -20.0, "xa-03": -30.0, "xa-04": -40.0]
        let context = try DTLSContext(certificate: DTLSCertificate())

        try await RoomServer.run(fixture, loudestAudio: 3) { room, _ in
            let (server, media, meeting) = (room.baseURL, room.media, room.meeting)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            func endpoint(_ subject: String, _ role: Role, level: Double, watch: WatchPolicy = WatchPolicy()) -> RoomEndpoint {
                var settings = Self.smallMedia()
                settings.toneLevel = level
                settings.watch = watch
                let room = GiaobanClient.RoomClient(server: server, meeting: meeting, token: HubFixture.token(role, subject), logger: logger)
                return RoomEndpoint(room: room, settings: settings, context: context)
            }
            let chair = endpoint("officer", .chair, level: -50,
                                 watch: WatchPolicy(chair: false, speaker: true, subjects: Set(loud.keys)))
            var all = ["officer": chair]
            for subject in communes { all[subject] = endpoint(subject, .commune, level: loud[subject] ?? -127) }
            chair.start(name: "officer")
            for subject in communes { all[subject]!.start(name: subject) }

            do {
                try await Self.scenario(all: all, chair: chair, communes: communes, media: media, meeting: meeting)
                for (subject, e) in all.sorted(by: { $0.key < $1.key }) where e.status.failures > 0 {
                    print("\(subject): \(e.status.failures) failures, last: \(e.status.lastFailure ?? "-")")
                    // The first connection of every downlink succeeds: offers that follow the first
                    // are answered while it connects (the relay makes the peer on the latest answer).
                    #expect(!(e.status.lastFailure ?? "").contains("iceFailed"), "\(subject): \(e.status.lastFailure ?? "")")
                }
            } catch {
                for e in all.values { await e.stop() }
                throw error
            }
            for e in all.values { await e.stop() }
        }
        print("20-endpoint room test took \(ContinuousClock.now - started)")
    }

    static func scenario(all: [String: RoomEndpoint], chair: RoomEndpoint, communes: [String], media: MediaServer,
                         meeting: Int64) async throws {
        // Everyone seated and publishing, as the chair's roster shows.
        do {
            try await eventually("21 seated and publishing", within: 45) {
                let roster = chair.status.room.participants
                return roster.count == 21 && roster.allSatisfy(\.publishing)
            }
        } catch {
            let roster = chair.status.room.participants
            print("roster \(roster.count), not publishing: \(roster.filter { !$0.publishing }.map(\.subject))")
            for (subject, e) in all.sorted(by: { $0.key < $1.key }) {
                print("\(subject): joins \(e.status.room.joins), ended \(e.status.room.ended ?? "-"), failures \(e.status.failures) \(e.status.lastFailure ?? "")")
            }
            throw error
        }
        #expect(Set(chair.status.room.participants.map(\.subject)) == Set(communes + ["officer"]))

        // xa-01, clearly the loudest, becomes everyone's speaker.
        try await eventually("xa-01 is everyone's speaker") { all.values.allSatisfy { $0.status.room.speaker == "xa-01" } }

        // Everyone decodes the chair's video and the speaker's (xa-01 watches only the chair).
        try await eventually("chair and speaker video decoded everywhere") {
            communes.allSatisfy { subject in
                let watched = all[subject]!.status.media.watched
                let chairVideo = (watched["officer"]?.framesDecoded ?? 0) > 0
                return chairVideo && (subject == "xa-01" || (watched["xa-01"]?.framesDecoded ?? 0) > 0)
            } && (chair.status.media.watched["xa-01"]?.framesDecoded ?? 0) > 0
        }
        for subject in communes where subject != "xa-01" {
            #expect(all[subject]!.status.watching == ["officer", "xa-01"], "\(subject) watches the chair and the speaker")
        }
        for subject in communes {
            #expect(all[subject]!.status.media.watched["officer"]?.width == 160)
        }

        // K loudest (K = 3): the relay lets xa-01…03 through and holds xa-04 and the rest back.
        let stream = { (subject: String) in MeetingRooms.stream(meeting: meeting, subject: subject) }
        func gated() async -> [String: Bool] {
            let activity = await media.ask(.audioActivity)
            return Dictionary(activity.map { ($0.stream, $0.gated || $0.muted) }, uniquingKeysWith: { a, _ in a })
        }
        try await eventually("only xa-01…03 let through") {
            let g = await gated()
            return ["xa-01", "xa-02", "xa-03"].allSatisfy { g[stream($0)] == false }
                && (["xa-04", "xa-05", "xa-20", "officer"]).allSatisfy { g[stream($0)] == true }
        }
        let k = try await audioPackets(at: chair, from: ["xa-01", "xa-02", "xa-03", "xa-04"])
        print("audio packets at the chair in 2 s, K = 3: \(k.sorted { $0.key < $1.key })")
        #expect(k["xa-01"]! > 40 && k["xa-02"]! > 40 && k["xa-03"]! > 40, "the three loudest are heard (≈100 packets each): \(k)")
        #expect(k["xa-04"] == 0, "the fourth is held back: \(k)")

        // The chair mutes xa-02: xa-02 is told, its audio stops; xa-04 is now among the loudest three.
        try await chair.room.muteParticipant("xa-02", muted: true)
        let muted = all["xa-02"]!
        try await eventually("xa-02 told it is muted") { muted.status.room.mutedByChair && muted.status.room.mutedEvents == 1 }
        try await eventually("xa-04 let through instead of xa-02") {
            let g = await gated()
            return g[stream("xa-02")] == true && g[stream("xa-04")] == false
        }
        let afterMute = try await audioPackets(at: chair, from: ["xa-02", "xa-04"])
        print("audio packets at the chair in 2 s after muting xa-02: \(afterMute.sorted { $0.key < $1.key })")
        #expect(afterMute["xa-02"] == 0, "a muted participant's audio reaches nobody: \(afterMute)")
        #expect(afterMute["xa-04"]! > 40, "\(afterMute)")
        #expect(communes.filter { all[$0]!.status.room.mutedEvents > 0 } == ["xa-02"], "only xa-02 is told")

        // Two communes leave: everyone's roster drops them.
        for subject in ["xa-19", "xa-20"] { await all[subject]!.stop() }
        try await eventually("the roster without xa-19 and xa-20") {
            ["officer", "xa-05"].allSatisfy { s in
                let roster = all[s]!.status.room.participants.map(\.subject)
                return roster.count == 19 && !roster.contains("xa-19") && !roster.contains("xa-20")
            }
        }

        // xa-10 reconnects (a network change): same seat, no duplicate, still publishing and watching.
        let seat = try #require(chair.status.room.participant("xa-10"))
        let moving = all["xa-10"]!
        let framesBefore = moving.status.media.watched["officer"]?.framesDecoded ?? 0
        moving.room.reconnect()
        try await eventually("xa-10 seated again") { moving.status.room.joins == 2 && moving.status.room.participants.count == 19 }
        try await eventually("xa-10 keeps receiving the chair") {
            (moving.status.media.watched["officer"]?.framesDecoded ?? 0) > framesBefore + 5
        }
        let roster = chair.status.room.participants
        #expect(roster.count == 19)
        #expect(roster.filter { $0.subject == "xa-10" }.count == 1, "no duplicate seat")
        #expect(roster.first { $0.subject == "xa-10" } == seat, "the same seat: joined_at and publishing unchanged")
        #expect(moving.status.room.ended == nil)
        // xa-02's socket drops (the chair muted it): the server keeps the seat for a while; the
        // client reconnects by itself with the same token and finds the same seat, still muted,
        // its stream still published (no new publish), no duplicate.
        let mutedSeat = try #require(chair.status.room.participant("xa-02"))
        #expect(mutedSeat.mutedByChair && mutedSeat.publishing)
        muted.room.dropConnection()
        try await eventually("xa-02 seated again") { muted.status.room.joins == 2 && muted.status.room.rosterUpdates > 0 }
        try await eventually("xa-02's roster after the reconnect") { muted.status.room.me == mutedSeat }
        let afterDrop = chair.status.room.participants
        #expect(afterDrop.count == 19)
        #expect(afterDrop.filter { $0.subject == "xa-02" } == [mutedSeat], "the same seat, once")
        #expect(muted.status.room.mutedByChair, "a dropped socket does not undo the chair's mute")
        #expect(muted.status.media.publishers == 1, "the published stream was kept")
        #expect(muted.status.room.ended == nil)

        for (subject, e) in all where e.status.failures > 0 {
            print("\(subject): \(e.status.failures) failed attempts (retried), last: \(e.status.lastFailure ?? "")")
        }
    }

    /// Audio packets `watcher` receives from each of `subjects` over 2 s.
    static func audioPackets(at watcher: RoomEndpoint, from subjects: [String]) async throws -> [String: Int] {
        try await Task.sleep(for: .milliseconds(500))  // packets already on their way
        let before = watcher.status.media.watched
        try await Task.sleep(for: .seconds(2))
        let after = watcher.status.media.watched
        var delta: [String: Int] = [:]
        for s in subjects { delta[s] = (after[s]?.audioPackets ?? 0) - (before[s]?.audioPackets ?? 0) }
        return delta
    }
}

@Suite("Room client: refusals and errors")
struct RoomClientErrorTests {
    @Test("a refused request throws the server's reason; a bad token or an unknown meeting ends the client with the reason")
    func refusals() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await RoomServer.run(fixture) { room, _ in
            let (server, meeting) = (room.baseURL, room.meeting)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let commune = GiaobanClient.RoomClient(server: server, meeting: meeting, token: HubFixture.token(.commune, "xa-a"),
                                                   requestTimeout: .seconds(5), logger: logger)
            commune.start()
            try await eventually("seated", within: 10) { commune.view.joins == 1 && commune.view.participants.count == 1 }
            do throws(ClientError) {
                try await commune.muteParticipant("xa-b", muted: true)
                Issue.record("a commune muted someone")
            } catch {
                #expect(error.reason == .rejected && error.message.contains("only the chair"), "\(error)")
            }
            try await commune.send(["type": "hand", "raised": true])
            try await eventually("hand up", within: 5) { commune.view.me?.hand == true }
            do throws(ClientError) {
                _ = try await commune.subscribe(participant: "nobody", offer: "v=0")
                Issue.record("subscribing to nobody succeeded")
            } catch {
                #expect(error.message.contains("not in the room"), "\(error)")
            }
            commune.leave()
            await commune.finished()

            for (token, meetingID, reason) in [("not-a-token", meeting, "token"), (HubFixture.token(.commune, "xa-a"), meeting + 99, "no such meeting")] {
                let refused = GiaobanClient.RoomClient(server: server, meeting: meetingID, token: token, logger: logger)
                refused.start()
                try await withTimeout(10, "refusal") { await refused.finished() }
                #expect(refused.view.joins == 0)
                #expect(refused.view.ended?.contains(reason) == true, "\(refused.view.ended ?? "-")")
            }
        }
    }
}
