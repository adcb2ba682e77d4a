@testable import GiaobanEngine
import GiaobanICE
import GiaobanWire
import Testing

/// Counts what a sink receives (on the test's thread, which plays the media thread).
final class CountingSink: AudioSink, VideoSink, @unchecked Sendable {
    var audio: [UInt16] = []
    var video: [UInt16] = []

    func push(source: String, sequence: UInt16, timestamp: UInt32, payload: UnsafeRawBufferPointer, level: AudioLevelExtension?) {
        audio.append(sequence)
    }

    func push(source: String, sequence: UInt16, timestamp: UInt32, marker: Bool, payload: UnsafeRawBufferPointer) {
        video.append(sequence)
    }
}

@Suite("Stream groups: the active speaker and the gates, decided on the media thread")
struct StreamGroupTests {
    /// Audio publishers connected to a router, each on its own stream, sending RFC 6464 levels.
    final class Room {
        let h: Harness
        var publishers: [String: LoopbackPeer] = [:]
        var sequence: [String: UInt16] = [:]

        init(streams: [String]) throws {
            h = try Harness()
            for (i, stream) in streams.enumerated() {
                let peer = try LoopbackPeer(port: UInt16(5200 + i), relayFingerprint: h.relayCertificate.fingerprint)
                h.peers.append(peer)
                var setup = MediaRouterAudioTests.audioSetup(peer, role: .publisher, id: "pub-\(stream)", ssrc: 0)
                setup.stream = stream
                try h.router.addPeer(setup, now: h.now)
                try h.connect(peer)
                publishers[stream] = peer
                sequence[stream] = 100
            }
        }

        /// One packet per stream with its level (0 loud … 127 silent), then 200 ms of the timer;
        /// returns the speaker changes reported.
        func tick(_ levels: [String: UInt8]) throws -> [MediaEvent] {
            for (stream, level) in levels.sorted(by: { $0.key < $1.key }) {
                let s = sequence[stream]!
                sequence[stream] = s &+ 1
                h.send(try publishers[stream]!.protect(MediaRouterAudioTests.opusPacket(sequence: s, level: level, voice: true)),
                       from: publishers[stream]!)
            }
            h.now += .milliseconds(200)
            h.router.tick(now: h.now, wallClock: 0, out: h.out)
            h.out.removeAll()
            return h.router.drainEvents().filter { if case .speakerChanged = $0 { true } else { false } }
        }

        func audioGated() -> [String: Bool] {
            Dictionary(uniqueKeysWithValues: h.router.audioActivity().map { ($0.stream, $0.gated) })
        }
    }

    @Test("the loudest member takes the floor after the hold, with one event per change; K loudest and last-N gate members only")
    func speakerAndGates() throws {
        // m1-x shares the members' name prefix but is no member: the loudest of all, never touched.
        let room = try Room(streams: ["m1-a", "m1-b", "m1-c", "m1-x"])
        let r = room.h.router
        var settings = StreamGroup.Settings()
        settings.loudestAudio = 1
        settings.lastN = 1
        settings.alwaysForwarded = ["m1-c"]  // the chair
        #expect(r.apply(.setGroupMembers(id: "m1", streams: ["m1-a"]), now: room.h.now, out: room.h.out) == .noGroup("m1"))
        #expect(r.apply(.setGroup(id: "m1", settings: settings), now: room.h.now, out: room.h.out) == nil)
        #expect(r.apply(.setGroupMembers(id: "m1", streams: ["m1-a", "m1-b", "m1-c"]), now: room.h.now, out: room.h.out) == nil)

        var changes: [MediaEvent] = []
        changes += try room.tick(["m1-a": 20, "m1-b": 120, "m1-c": 120, "m1-x": 0])
        #expect(changes == [.speakerChanged(group: "m1", stream: "m1-a")], "a floor nobody holds goes at once")
        #expect(room.audioGated() == ["m1-a": false, "m1-b": true, "m1-c": true, "m1-x": false])
        #expect(r.videoGatedStreams() == ["m1-b"], "a spoke last, c is the chair")

        // b gets louder than a: the floor moves only after b has led by the margin for five ticks.
        var moved = 0
        for i in 1...10 {
            let events = try room.tick(["m1-a": 60, "m1-b": 5, "m1-c": 120, "m1-x": 0])
            changes += events
            if !events.isEmpty && moved == 0 { moved = i }
        }
        #expect(moved >= 5, "held for the switch ticks; moved at tick \(moved)")
        #expect(changes == [.speakerChanged(group: "m1", stream: "m1-a"), .speakerChanged(group: "m1", stream: "m1-b")])
        #expect(r.group(id: "m1")?.speaker == "m1-b")
        #expect(room.audioGated() == ["m1-a": true, "m1-b": false, "m1-c": true, "m1-x": false])
        #expect(r.videoGatedStreams() == ["m1-a"], "b spoke last")

        // Steady: no more events, no gate changes.
        #expect(try room.tick(["m1-a": 60, "m1-b": 5, "m1-c": 120, "m1-x": 0]).isEmpty)

        // A member that leaves the group is released; removing the group releases the rest.
        #expect(r.apply(.setGroupMembers(id: "m1", streams: ["m1-b", "m1-c"]), now: room.h.now, out: room.h.out) == nil)
        #expect(room.audioGated()["m1-a"] == false && r.videoGatedStreams().isEmpty)
        _ = try room.tick(["m1-a": 0, "m1-b": 5, "m1-c": 120])
        #expect(room.audioGated() == ["m1-a": false, "m1-b": false, "m1-c": true, "m1-x": false], "a non-member is not gated")
        #expect(r.apply(.removeGroup(id: "m1"), now: room.h.now, out: room.h.out) == nil)
        #expect(room.audioGated().values.allSatisfy { !$0 } && r.group(id: "m1") == nil)
    }

    @Test("a chair-muted member's levels are left out: it cannot take the floor")
    func mutedMember() throws {
        let room = try Room(streams: ["s-a", "s-b"])
        let r = room.h.router
        r.setGroup(id: "g", settings: StreamGroup.Settings())
        r.setGroupMembers(id: "g", streams: ["s-a", "s-b"], now: room.h.now, out: room.h.out)
        #expect(r.setAudioMuted(stream: "s-a", true))
        var changes: [MediaEvent] = []
        for _ in 0..<3 { changes += try room.tick(["s-a": 0, "s-b": 40]) }
        #expect(changes == [.speakerChanged(group: "g", stream: "s-b")])
        #expect(room.audioGated().values.allSatisfy { !$0 }, "no loudest-K rule: no audio gate")
    }

    @Test("last-N: the last N speakers, the chair and the spotlight go through; before anyone speaks, the earliest members")
    func lastN() {
        let members = ["officer", "a", "b", "c", "d", "e"]
        let quiet = StreamGroup.videoGates(members: members, recent: [], always: ["officer"], lastN: 2)
        #expect(quiet == ["officer": false, "a": false, "b": false, "c": true, "d": true, "e": true])
        let spoken = StreamGroup.videoGates(members: members, recent: ["e", "c", "a"], always: ["officer", "b"], lastN: 2)
        #expect(spoken == ["officer": false, "b": false, "e": false, "c": false, "a": true, "d": true], "e and c spoke last; b is spotlit")
        let gone = StreamGroup.videoGates(members: members.filter { $0 != "e" }, recent: ["e", "c"], always: ["officer"], lastN: 2)
        #expect(gone == ["officer": false, "c": false, "a": false, "b": true, "d": true], "a speaker who left is skipped")
    }

    @Test("two sinks on one stream both receive its packets; removing one leaves the other")
    func twoSinks() throws {
        let room = try Room(streams: ["s"])
        let r = room.h.router
        let mixer = CountingSink(), recorder = CountingSink()
        #expect(r.apply(.addSinks(streams: ["s"], audio: mixer, video: mixer), now: room.h.now, out: room.h.out) == nil)
        #expect(r.apply(.addSinks(streams: ["s"], audio: recorder, video: nil), now: room.h.now, out: room.h.out) == nil)
        #expect(r.apply(.addSinks(streams: ["s"], audio: recorder, video: nil), now: room.h.now, out: room.h.out) == nil,
                "the same sink twice is attached once")
        for _ in 0..<3 { _ = try room.tick(["s": 30]) }
        #expect(mixer.audio == [100, 101, 102] && recorder.audio == [100, 101, 102])

        #expect(r.apply(.removeSinks(audio: mixer, video: mixer), now: room.h.now, out: room.h.out) == nil)
        _ = try room.tick(["s": 30])
        #expect(mixer.audio == [100, 101, 102] && recorder.audio == [100, 101, 102, 103])

        // Video: the highest layer goes to every video sink.
        let h = try Harness()
        let pub = try LoopbackPeer(port: 5300, relayFingerprint: h.relayCertificate.fingerprint)
        h.peers = [pub]
        try h.router.addPeer(pub.setup(role: .publisher, stream: "v", id: "pub", relayICE: .random(), ssrc: 0), now: h.now)
        try h.connect(pub)
        let compositor = CountingSink(), camera = CountingSink()
        h.router.addSinks(stream: "v", audio: nil, video: compositor)
        h.router.addSinks(stream: "v", audio: nil, video: camera)
        for s in UInt16(7)..<9 {
            h.send(try pub.protect(vp8Packet(sequence: s, timestamp: 3000, ssrc: 0x4444, payload: [1, 2, 3])), from: pub)
        }
        #expect(compositor.video == [7, 8] && camera.video == [7, 8])
    }
}
