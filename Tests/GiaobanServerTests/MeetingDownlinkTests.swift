import Foundation
@testable import GiaobanServer
import GiaobanStore
import HummingbirdTesting
import Testing
import GiaobanAuth

/// A client's answer to a downlink offer: every sending m-line received, the others inactive,
/// with the client's ICE credentials and DTLS fingerprint.
func downlinkAnswer(to offer: String, ufrag: String = "cli1", fingerprintByte: String = "CD") -> String {
    var text = "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    let sections = offer.components(separatedBy: "\r\nm=").dropFirst()
    for section in sections {
        let lines = section.components(separatedBy: "\r\n")
        let media = lines[0].split(separator: " ")
        let mid = lines.first { $0.hasPrefix("a=mid:") }.map { String($0.dropFirst(6)) } ?? ""
        let sending = lines.contains("a=sendonly")
        text += "m=\(media[0]) 9 UDP/TLS/RTP/SAVPF \(media[3])\r\nc=IN IP4 0.0.0.0\r\na=mid:\(mid)\r\n"
        text += "a=ice-ufrag:\(ufrag)\r\na=ice-pwd:clientpasswordclientpass\r\n"
        text += "a=fingerprint:sha-256 " + [String](repeating: fingerprintByte, count: 32).joined(separator: ":") + "\r\n"
        text += "a=setup:active\r\na=\(sending ? "recvonly" : "inactive")\r\na=rtcp-mux\r\n"
        text += "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    }
    return text
}

func json(_ object: [String: Any]) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

extension RoomClient {
    /// Sends a ping and waits for its own pong: everything sent before has been handled.
    func sync() async throws {
        func pongs() -> Int { received.withLock { $0 }.filter { $0.contains(#""type":"pong""#) }.count }
        let before = pongs()
        send.yield(#"{"type": "ping"}"#)
        for _ in 0..<500 where pongs() == before { try await Task.sleep(for: .milliseconds(10)) }
        #expect(pongs() > before, "\(subject): a pong within 5 s")
    }
}

@Suite("Meeting rooms: one connection down, offered by the relay; ICE restarts")
struct MeetingDownlinkTests {
    /// A participant's room socket, once seated.
    static func seated(_ client: some TestClientProtocol & Sendable, meeting: Int64, _ subject: String, _ role: Role) async throws -> RoomClient {
        let room = RoomClient(subject: subject)
        room.start(client, meeting: meeting, role: role)
        try await room.wait(for: "joined")
        return room
    }

    static func tracks(_ offer: [String: Any]) -> [String] {
        (offer["tracks"] as? [[String: Any]] ?? []).map { "\($0["participant"] as? String ?? "?")/\($0["kind"] as? String ?? "?")" }
    }

    @Test("offers as tracks come and go, answers applied to the relay, refusals with reasons, ICE restarts of both connections")
    func downlink() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        _ = try await RoomServer.run(fixture) { server, client in
            let (media, meeting) = (server.media, server.meeting)
            let chair = try await Self.seated(client, meeting: meeting, "officer", .chair)
            let commune = try await Self.seated(client, meeting: meeting, "xa-b", .commune)
            try await chair.wait(for: "roster", "with two people") { MeetingRoomTests.roster($0).count == 2 }

            // Refusals before any downlink exists.
            chair.send.yield(#"{"type": "downlink", "participants": 5}"#)
            try await chair.wait(for: "error", "for participants of a wrong type") { ($0["message"] as? String)?.contains("downlink needs") == true }
            chair.send.yield(#"{"type": "layer", "participant": "xa-b", "layer": "low"}"#)
            try await chair.wait(for: "error", "for a layer before a downlink") { ($0["message"] as? String)?.contains("needs a downlink first") == true }
            chair.send.yield(#"{"type": "answer", "session": "nope", "revision": 1, "sdp": "v=0"}"#)
            try await chair.wait(for: "error", "for an unknown session") { ($0["message"] as? String)?.contains("no downlink session") == true }

            // The first offer: only the placeholder, nobody publishes yet.
            chair.send.yield(#"{"type": "downlink", "participants": "all"}"#)
            let first = try await chair.wait(for: "offer")
            let session = try #require(first["session"] as? String)
            #expect(first["revision"] as? Int == 1)
            #expect(Self.tracks(first).isEmpty)
            let firstSDP = try #require(first["sdp"] as? String)
            #expect(firstSDP.contains("a=ice-lite") && firstSDP.contains("a=inactive") && firstSDP.contains("a=setup:actpass"))
            chair.send.yield(try json(["type": "answer", "session": session, "revision": 1, "sdp": downlinkAnswer(to: firstSDP)]))
            try await chair.sync()
            let peer = "downlink-\(session)"
            #expect(await media.ask(.hasPeer(peer)), "the first answer creates the connection")

            // xa-b publishes: the chair gets a new offer on its own, with xa-b's audio and video.
            let offer = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../GiaobanWireTests/Fixtures/sdp/chromium-offer.sdp"), encoding: .utf8)
            commune.send.yield(try json(["type": "publish", "sdp": offer]))
            let published = try await commune.wait(for: "answer")
            let publishSession = try #require(published["session"] as? String)
            let second = try await chair.wait(for: "offer", "after xa-b published") { $0["revision"] as? Int == 2 }
            #expect(Self.tracks(second) == ["xa-b/audio", "xa-b/video"])
            let secondSDP = try #require(second["sdp"] as? String)
            #expect(secondSDP.contains("a=msid:\(MeetingRooms.stream(meeting: meeting, subject: "xa-b")) giaoban-video"))

            // Bad answers are refused with a reason and the socket stays open.
            chair.send.yield(try json(["type": "answer", "session": session, "revision": 9, "sdp": downlinkAnswer(to: secondSDP)]))
            try await chair.wait(for: "error", "for a revision never sent") { ($0["message"] as? String)?.contains("revision 9") == true }
            chair.send.yield(try json(["type": "answer", "session": session, "revision": 2, "sdp": "v=0 nonsense"]))
            try await chair.wait(for: "error", "for malformed SDP") { ($0["message"] as? String)?.contains("malformed SDP answer") == true }
            chair.send.yield(try json(["type": "answer", "session": session, "revision": 2, "sdp": downlinkAnswer(to: firstSDP)]))
            try await chair.wait(for: "error", "for an answer to another offer") { ($0["message"] as? String)?.contains("m-lines") == true }
            chair.send.yield(try json(["type": "answer", "session": session, "revision": 2,
                                       "sdp": downlinkAnswer(to: secondSDP, fingerprintByte: "EF")]))
            try await chair.wait(for: "error", "for a changed fingerprint") { ($0["message"] as? String)?.contains("DTLS fingerprint") == true }
            // A stale answer is ignored silently.
            chair.send.yield(try json(["type": "answer", "session": session, "revision": 1, "sdp": downlinkAnswer(to: firstSDP)]))
            chair.send.yield(try json(["type": "answer", "session": session, "revision": 2, "sdp": downlinkAnswer(to: secondSDP)]))
            chair.send.yield(#"{"type": "layer", "participant": "xa-b", "layer": "low"}"#)
            try await chair.sync()
            let stream = MeetingRooms.stream(meeting: meeting, subject: "xa-b")
            let state = (await media.ask(.subscriptions(peer: peer)), await media.ask(.subscriberVideo(peer: peer, stream: stream))?.maxRank)
            #expect(state.0 == [stream], "the answer subscribed the chair's connection to xa-b")
            #expect(state.1 == .some(0), "the layer cap reached the relay")
            let errors = chair.received.withLock { $0 }.filter { $0.contains(#""type":"error""#) }.count
            #expect(errors == 7, "no error for the stale answer, the good one, or the layer")

            // ICE restart of the downlink: a new offer with new credentials, the same session.
            chair.send.yield(#"{"type": "restart", "session": "\#(publishSession)"}"#)
            try await chair.wait(for: "error", "for a session that is not the chair's downlink") { ($0["message"] as? String)?.contains("no downlink session") == true }
            chair.send.yield(#"{"type": "restart", "session": "\#(session)"}"#)
            let third = try await chair.wait(for: "offer", "for the restart") { $0["revision"] as? Int == 3 }
            let thirdSDP = try #require(third["sdp"] as? String)
            func ufrag(_ sdp: String) -> String? { sdp.components(separatedBy: "\r\n").first { $0.hasPrefix("a=ice-ufrag:") } }
            #expect(ufrag(thirdSDP) != ufrag(secondSDP))
            #expect(Self.tracks(third) == ["xa-b/audio", "xa-b/video"])
            let restarts = await media.ask(.counters).iceRestarts
            chair.send.yield(try json(["type": "answer", "session": session, "revision": 3, "sdp": downlinkAnswer(to: thirdSDP, ufrag: "cli2")]))
            try await chair.sync()
            #expect(await media.ask(.counters).iceRestarts == restarts + 1)

            // ICE restart of the publish connection: publish again with the session and new credentials.
            commune.send.yield(#"{"type": "restart", "session": "\#(publishSession)"}"#)
            try await commune.wait(for: "error", "pointing to publish") { ($0["message"] as? String)?.contains("publish connection") == true }
            let restarted = offer.replacingOccurrences(of: "a=ice-ufrag:zAwC", with: "a=ice-ufrag:nEwU")
            commune.send.yield(try json(["type": "publish", "session": publishSession, "sdp": restarted]))
            let again = try await commune.wait(for: "answer", "to the restart") { $0["session"] as? String == publishSession && $0["sdp"] as? String != published["sdp"] as? String }
            #expect(ufrag(again["sdp"] as? String ?? "") != ufrag(published["sdp"] as? String ?? ""), "the relay's credentials changed too")
            #expect(await media.ask(.counters).iceRestarts == restarts + 2)
            let otherCertificate = restarted.replacingOccurrences(of: "a=fingerprint:sha-256 E1:13", with: "a=fingerprint:sha-256 E2:13")
            commune.send.yield(try json(["type": "publish", "session": publishSession, "sdp": otherCertificate]))
            try await commune.wait(for: "error", "for a new certificate") { ($0["message"] as? String)?.contains("DTLS fingerprint") == true }
            commune.send.yield(try json(["type": "publish", "session": "elsewhere", "sdp": restarted]))
            try await commune.wait(for: "error", "for someone else's session") { ($0["message"] as? String)?.contains("no publish session") == true }

            // xa-b leaves: its tracks leave the chair's connection at once, and an offer says so.
            await commune.finish()
            let fourth = try await chair.wait(for: "offer", "after xa-b left") { $0["revision"] as? Int == 4 }
            #expect(Self.tracks(fourth).isEmpty)
            #expect((fourth["sdp"] as? String)?.components(separatedBy: "a=inactive").count == 4, "three inactive m-lines")
            #expect(await media.ask(.subscriptions(peer: peer)).isEmpty)

            // Leaving ends the chair's downlink connection too.
            await chair.finish()
            var gone = false
            for _ in 0..<200 where !gone {
                gone = await !media.ask(.hasPeer(peer))
                if !gone { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(gone)
        }
    }

    /// The chair publishing Chromium's offer and "xa-m" with a downlink of everyone whose first
    /// offer (the chair's tracks) is answered: the room both mixed-mode tests start from.
    static func listenerWatchingTheChair(_ client: some TestClientProtocol & Sendable, meeting: Int64) async throws
        -> (chair: RoomClient, listener: RoomClient, forwarded: [String: Any], session: String) {
        let chair = try await seated(client, meeting: meeting, "officer", .chair)
        let listener = try await seated(client, meeting: meeting, "xa-m", .commune)
        let offer = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../GiaobanWireTests/Fixtures/sdp/chromium-offer.sdp"), encoding: .utf8)
        chair.send.yield(try json(["type": "publish", "sdp": offer]))
        try await chair.wait(for: "answer")
        listener.send.yield(#"{"type": "downlink", "participants": "all"}"#)
        let forwarded = try await listener.wait(for: "offer", "with the chair") { tracks($0) == ["officer/audio", "officer/video"] }
        let session = try #require(forwarded["session"] as? String)
        listener.send.yield(try json(["type": "answer", "session": session, "revision": forwarded["revision"] as? Int ?? 0,
                                      "sdp": downlinkAnswer(to: forwarded["sdp"] as? String ?? "")]))
        try await listener.sync()
        return (chair, listener, forwarded, session)
    }

    @Test("mixed mode on the downlink: the mix's tracks replace everyone's streams, and they come back in forwarded mode")
    func mixedMode() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        _ = try await RoomServer.run(fixture) { server, client in
            let (media, meeting) = (server.media, server.meeting)
            let (chair, listener, forwarded, session) = try await Self.listenerWatchingTheChair(client, meeting: meeting)
            func answer(_ offer: [String: Any]) throws {
                listener.send.yield(try json(["type": "answer", "session": session, "revision": offer["revision"] as? Int ?? 0,
                                              "sdp": downlinkAnswer(to: offer["sdp"] as? String ?? "")]))
            }
            let peer = "downlink-\(session)"
            let chairStream = MeetingRooms.stream(meeting: meeting, subject: "officer")
            #expect(await media.ask(.subscriptions(peer: peer)) == [chairStream])

            // Mixed: one offer with the mix's audio and composed video, the chair's lines inactive.
            listener.send.yield(#"{"type": "mode", "mode": "mixed"}"#)
            let mixed = try await listener.wait(for: "offer", "with the mix") { MeetingDownlinkTests.tracks($0) == ["mix/audio", "mix/video"] }
            let mixedSDP = try #require(mixed["sdp"] as? String)
            #expect(mixedSDP.contains("a=msid:m\(meeting)~mix giaoban-audio"))
            try answer(mixed)
            try await listener.sync()
            #expect(await media.ask(.subscriptions(peer: peer)) == ["m\(meeting)~mix"])

            // Forwarded again: the chair's streams come back on their own m-lines.
            listener.send.yield(#"{"type": "mode", "mode": "forwarded"}"#)
            let back = try await listener.wait(for: "offer", "with the chair again") {
                MeetingDownlinkTests.tracks($0) == ["officer/audio", "officer/video"] && ($0["revision"] as? Int ?? 0) > (mixed["revision"] as? Int ?? 0)
            }
            let mids = { (o: [String: Any]) in (o["tracks"] as? [[String: Any]] ?? []).compactMap { $0["mid"] as? String } }
            #expect(mids(back) == mids(forwarded))
            try answer(back)
            try await listener.sync()
            #expect(await media.ask(.subscriptions(peer: peer)) == [chairStream])
            await listener.finish()
            await chair.finish()
        }
    }

    @Test("mixed mode while the room renegotiates all along (the 2 s catch-all, a publish): the mix's offer still comes")
    func mixedModeUnderRenegotiation() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        _ = try await RoomServer.run(fixture) { server, client in
            let (rooms, meeting) = (server.rooms, server.meeting)
            let (chair, listener, forwarded, _) = try await Self.listenerWatchingTheChair(client, meeting: meeting)

            // Renegotiation rounds back to back, as the catch-all and publishes start them: one
            // reads the room while the mix is being created and started, and must not offer a
            // downlink without tracks ahead of the mix's offer.
            let rounds = Task {
                while !Task.isCancelled { await rooms.renegotiateDownlinks(meeting) }
            }
            defer { rounds.cancel() }
            listener.send.yield(#"{"type": "mode", "mode": "mixed"}"#)
            let mixed = try await listener.wait(for: "offer", "with the mix") { MeetingDownlinkTests.tracks($0) == ["mix/audio", "mix/video"] }
            let offers = listener.received.withLock { $0 }.map(jsonObject).filter { $0["type"] as? String == "offer" }
            #expect(offers.allSatisfy { !MeetingDownlinkTests.tracks($0).isEmpty }, "no offer without tracks: \(offers.map(MeetingDownlinkTests.tracks))")
            #expect(mixed["revision"] as? Int == (forwarded["revision"] as? Int ?? 0) + 1)
            rounds.cancel()
            await listener.finish()
            await chair.finish()
        }
    }
}
