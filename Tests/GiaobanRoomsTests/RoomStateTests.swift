import GiaobanAuth
import GiaobanHub
@testable import GiaobanRooms
import Testing

/// The room's state machine on its own: events in, actions out, time injected, no sockets.
@Suite struct RoomStateTests {
    typealias Caller = RoomEvent.Caller

    let chair = Caller(subject: "officer", role: .chair, connection: 1)
    let a = Caller(subject: "xa-a", role: .commune, connection: 2)
    let b = Caller(subject: "xa-b", role: .commune, connection: 3)

    /// A room of meeting 7 with the chair, then xa-a and xa-b, seated at t = 1000, 1001, 1002.
    func seated() -> RoomState {
        var room = RoomState(meeting: 7, seatGrace: .seconds(15), rosterInterval: .milliseconds(50))
        _ = room.handle(.join(chair), now: 1000)
        _ = room.handle(.join(a), now: 1001)
        _ = room.handle(.join(b), now: 1002)
        _ = room.handle(.rosterDue, now: 1050)
        return room
    }

    func request(_ room: inout RoomState, _ caller: Caller, _ json: String, now: Int64 = 2000) -> [RoomAction] {
        switch RoomRequest.parse(json) {
        case .success(let request): room.handle(.request(caller, request), now: now)
        case .failure(let invalid): room.handle(.invalid(caller, invalid), now: now)
        }
    }

    func errors(_ actions: [RoomAction]) -> [String] {
        actions.compactMap { if case .reply(_, .error(let message)) = $0 { message } else { nil } }
    }

    @Test func firstJoinOpensTheRoomRecordsAttendanceAndSchedulesOneRoster() {
        var room = RoomState(meeting: 7)
        let actions = room.handle(.join(chair), now: 1000)
        #expect(actions.contains(.recordJoin(subject: "officer", role: .chair, at: 1000)))
        #expect(actions.contains(.opened))
        #expect(actions.contains(.reply(connection: 1, .joined(RoomMessage.Joined(meeting: 7, you: "officer", role: "chair",
                                                                                   stream: "m7-officer")))))
        #expect(actions.contains(.scheduleRoster(after: .milliseconds(50))))
        // A second join before the roster went out rides on the same broadcast.
        let second = room.handle(.join(a), now: 1010)
        #expect(!second.contains(.opened))
        #expect(!second.contains { if case .scheduleRoster = $0 { true } else { false } })
        let due = room.handle(.rosterDue, now: 1050)
        guard case .broadcast(.roster(let roster))? = due.first else { Issue.record("no roster: \(due)"); return }
        #expect(roster.participants.map(\.subject) == ["officer", "xa-a"])
        #expect(roster.participants.map(\.joined_at) == [1000, 1010])
        #expect(room.rosterPending == false)
    }

    @Test func aLockedRoomRefusesNewcomersButNotTheChairOrTheSeated() {
        var room = seated()
        #expect(request(&room, chair, #"{"type":"lock","locked":true}"#).contains(.scheduleRoster(after: .milliseconds(50))))
        #expect(room.locked)
        let late = Caller(subject: "xa-c", role: .commune, connection: 9)
        #expect(room.handle(.join(late), now: 3000) == [.refuse(connection: 9, reason: "the room is locked by the chair")])
        #expect(room.seats["xa-c"] == nil)
        #expect(!room.admits("xa-c", role: .observer) && room.admits("xa-c", role: .admin) && room.admits("xa-a", role: .commune))
        let back = Caller(subject: "xa-a", role: .commune, connection: 10)
        #expect(room.handle(.join(back), now: 3000).contains(.close(subject: "xa-a", connection: 2, .replaced)))
        let admin = Caller(subject: "admin", role: .admin, connection: 11)
        #expect(room.handle(.join(admin), now: 3001).contains(.recordJoin(subject: "admin", role: .admin, at: 3001)))
    }

    @Test func rejoiningTakesTheSeatOverAndKeepsHandAndMute() {
        var room = seated()
        _ = request(&room, a, #"{"type":"hand","raised":true}"#)
        _ = request(&room, chair, #"{"type":"mute_participant","participant":"xa-a","muted":true}"#)
        let again = Caller(subject: "xa-a", role: .commune, connection: 20)
        let actions = room.handle(.join(again), now: 5000)
        #expect(actions.first == .close(subject: "xa-a", connection: 2, .replaced))
        #expect(actions.contains(.reofferDownlink(subject: "xa-a")))
        #expect(!actions.contains { if case .recordJoin = $0 { true } else { false } }, "a reconnect is not a new presence")
        let seat = room.seats["xa-a"]
        #expect(seat?.connection == 20 && seat?.hand == true && seat?.mutedByChair == true && seat?.joinedAt == 1001)
        // The old socket's close no longer concerns the seat.
        #expect(room.handle(.socketClosed(subject: "xa-a", connection: 2), now: 5001).isEmpty)
        #expect(room.seats["xa-a"]?.disconnected == false)
    }

    @Test func aDroppedSocketKeepsTheSeatUntilTheGraceRunsOut() {
        var room = seated()
        _ = room.handle(.published(subject: "xa-a", session: "s1"), now: 1100)
        let drop = room.handle(.socketClosed(subject: "xa-a", connection: 2), now: 2000)
        #expect(drop.contains(.startGrace(subject: "xa-a", connection: 2, after: .seconds(15))))
        #expect(room.seats["xa-a"]?.disconnected == true && room.seats["xa-a"]?.publishing == "s1")
        let gone = room.handle(.graceExpired(subject: "xa-a", connection: 2), now: 17000)
        #expect(room.seats["xa-a"] == nil)
        #expect(gone.contains(.closePublisher(stream: "m7-xa-a", session: "s1")))
        #expect(gone.contains(.forgetMedia(subject: "xa-a")))
        #expect(gone.contains(.recordLeave(subject: "xa-a", at: 17000)))
        #expect(gone.contains(.renegotiateDownlinks))
        #expect(!gone.contains(.dissolved))
    }

    @Test func graceExpiryLeavesAReconnectedSeatAlone() {
        var room = seated()
        _ = room.handle(.socketClosed(subject: "xa-a", connection: 2), now: 2000)
        _ = room.handle(.join(Caller(subject: "xa-a", role: .commune, connection: 30)), now: 5000)
        #expect(room.handle(.graceExpired(subject: "xa-a", connection: 2), now: 17000).isEmpty)
        #expect(room.seats["xa-a"]?.connection == 30)
        // Dropped again: only the newer grace counts.
        _ = room.handle(.socketClosed(subject: "xa-a", connection: 30), now: 18000)
        #expect(room.handle(.graceExpired(subject: "xa-a", connection: 2), now: 20000).isEmpty)
        #expect(!room.handle(.graceExpired(subject: "xa-a", connection: 30), now: 33000).isEmpty)
        #expect(room.seats["xa-a"] == nil)
    }

    @Test func leaveThenCloseGivesTheSeatUpAtOnceAndTheLastOneDissolvesTheRoom() {
        var room = RoomState(meeting: 7)
        _ = room.handle(.join(a), now: 1000)
        #expect(request(&room, a, #"{"type":"leave"}"#) == [.reply(connection: 2, .bye)])
        let closed = room.handle(.socketClosed(subject: "xa-a", connection: 2), now: 1500)
        #expect(closed.contains(.dissolved) && closed.contains(.recordLeave(subject: "xa-a", at: 1500)))
        #expect(!closed.contains { if case .startGrace = $0 { true } else { false } })
        #expect(!closed.contains { if case .scheduleRoster = $0 { true } else { false } }, "nobody is left to hear a roster")
        #expect(room.seats.isEmpty)
    }

    @Test(arguments: [
        #"{"type":"mute_participant","participant":"xa-b","muted":true}"#, #"{"type":"mute_participant"}"#,
        #"{"type":"spotlight"}"#, #"{"type":"lock"}"#, #"{"type":"lock","locked":true}"#, #"{"type":"end"}"#,
        #"{"type":"ask_unmute","participant":"xa-b"}"#, #"{"type":"lower_hand"}"#,
    ])
    func chairControlsAreRefusedToCommunes(json: String) throws {
        var room = seated()
        let type = try #require(json.split(separator: "\"").dropFirst(3).first)
        #expect(errors(request(&room, a, json)) == ["only the chair may \(type)"])
        #expect(!room.locked && room.seats.values.allSatisfy { !$0.leaving && !$0.mutedByChair })
    }

    @Test func theChairMutesAParticipantAtTheRelayAndTellsThem() {
        var room = seated()
        let actions = request(&room, chair, #"{"type":"mute_participant","participant":"xa-b","muted":true}"#)
        #expect(actions.contains(.setAudioMuted(stream: "m7-xa-b", muted: true)))
        #expect(actions.contains(.send(subject: "xa-b", .muted(muted: true, by: "officer"))))
        #expect(room.seats["xa-b"]?.mutedByChair == true)
        // Publishing later applies the mute at once.
        #expect(room.handle(.published(subject: "xa-b", session: "s2"), now: 3000).contains(.setAudioMuted(stream: "m7-xa-b", muted: true)))
        #expect(!room.handle(.published(subject: "xa-a", session: "s3"), now: 3000).contains { if case .setAudioMuted = $0 { true } else { false } })
        #expect(errors(request(&room, chair, #"{"type":"mute_participant","participant":"nobody","muted":true}"#))
                == ["'nobody' is not in the room"])
    }

    @Test func handsAreRaisedByTheirOwnerAndLoweredByTheChair() {
        var room = seated()
        _ = request(&room, a, #"{"type":"hand","raised":true}"#)
        #expect(room.seats["xa-a"]?.hand == true)
        #expect(errors(request(&room, a, #"{"type":"hand"}"#)) == [#"hand needs "raised": true or false"#])
        #expect(errors(request(&room, chair, #"{"type":"lower_hand"}"#)) == [#"lower_hand needs "participant""#])
        #expect(errors(request(&room, chair, #"{"type":"lower_hand","participant":"xa-a"}"#)).isEmpty)
        #expect(room.seats["xa-a"]?.hand == false)
        let ask = request(&room, chair, #"{"type":"ask_unmute","participant":"xa-b"}"#)
        #expect(ask.first == .send(subject: "xa-b", .unmuteRequested(by: "officer")))
    }

    @Test func theSpotlightIsClearedWhenItsSubjectLeaves() {
        var room = seated()
        _ = request(&room, chair, #"{"type":"spotlight","participant":"xa-b"}"#)
        #expect(room.spotlight == "xa-b")
        #expect(errors(request(&room, chair, #"{"type":"spotlight","participant":"xa-z"}"#)) == ["'xa-z' is not in the room"])
        #expect(room.spotlight == "xa-b")
        _ = request(&room, b, #"{"type":"leave"}"#)
        _ = room.handle(.socketClosed(subject: "xa-b", connection: 3), now: 4000)
        #expect(room.spotlight == nil)
        _ = request(&room, chair, #"{"type":"spotlight","participant":"xa-a"}"#)
        _ = request(&room, chair, #"{"type":"spotlight"}"#)
        #expect(room.spotlight == nil)
    }

    @Test func endTellsEveryoneAndClosesEverySocketWithEnded() {
        var room = seated()
        let actions = request(&room, chair, #"{"type":"end"}"#)
        #expect(actions.first == .broadcast(.ended))
        for caller in [chair, a, b] {
            #expect(actions.contains(.close(subject: caller.subject, connection: caller.connection, .ended)))
        }
        // Each close then gives its seat up without a grace.
        for caller in [chair, a, b] {
            let closed = room.handle(.socketClosed(subject: caller.subject, connection: caller.connection), now: 6000)
            #expect(closed.contains(.recordLeave(subject: caller.subject, at: 6000)))
        }
        #expect(room.seats.isEmpty)
    }

    @Test func theLayoutFollowsSpotlightChairAndSpeaker() {
        var room = seated()
        #expect(room.layout() == .setLayout(main: "m7-officer", inset: nil))
        #expect(room.handle(.speakerChanged("xa-a"), now: 2000) == [.setLayout(main: "m7-officer", inset: "m7-xa-a"), .broadcast(.speaker("xa-a"))])
        _ = request(&room, chair, #"{"type":"spotlight","participant":"xa-b"}"#)
        #expect(room.layout() == .setLayout(main: "m7-xa-b", inset: "m7-xa-a"))
        #expect(room.handle(.speakerChanged("ghost"), now: 2000).isEmpty)
    }

    @Test func linksBroadcastTheRosterOnlyWhenTheyMoveNoticeably() {
        var room = seated()
        let clean = RoomMessage.Link(loss: 0, jitter_ms: 2)
        #expect(!room.handle(.linksMeasured(["xa-a": clean]), now: 2000).isEmpty)
        _ = room.handle(.rosterDue, now: 2050)
        #expect(room.handle(.linksMeasured(["xa-a": RoomMessage.Link(loss: 0.01, jitter_ms: 5)]), now: 4000).isEmpty)
        #expect(!room.handle(.linksMeasured(["xa-a": RoomMessage.Link(loss: 0.05, jitter_ms: 5)]), now: 6000).isEmpty)
    }

    @Test func publishingAndModeShowInTheRoster() throws {
        var room = seated()
        #expect(room.handle(.published(subject: "xa-a", session: "s1"), now: 2000).contains(.renegotiateDownlinks))
        #expect(room.handle(.modeChanged(subject: "xa-b", mixed: true), now: 2001).contains(.setLayout(main: "m7-officer", inset: nil)))
        _ = room.handle(.published(subject: "officer", session: "s0"), now: 2002)
        let spot = request(&room, chair, #"{"type":"spotlight","participant":"xa-b"}"#)
        #expect(spot.contains(.syncGroup(members: ["m7-officer", "m7-xa-a"], alwaysForwarded: ["m7-officer", "m7-xa-b"])))
        let due = room.handle(.rosterDue, now: 2050)
        guard case .broadcast(.roster(let roster))? = due.first else { Issue.record("no roster: \(due)"); return }
        let entries = Dictionary(uniqueKeysWithValues: roster.participants.map { ($0.subject, $0) })
        #expect(entries["xa-a"]?.publishing == true && entries["xa-b"]?.mode == "mixed" && entries["officer"]?.mode == "forwarded")
        #expect(room.handle(.unpublished(subject: "xa-a"), now: 3000).contains(.renegotiateDownlinks))
        #expect(room.handle(.unpublished(subject: "xa-a"), now: 3001).isEmpty)
        #expect(room.handle(.published(subject: "ghost", session: "s9"), now: 3002).isEmpty)
    }

    @Test func leaveFromAReplacedSocketDoesNotGiveTheSeatUp() {
        var room = seated()
        _ = room.handle(.join(Caller(subject: "xa-a", role: .commune, connection: 50)), now: 3000)
        _ = request(&room, a, #"{"type":"leave"}"#)
        #expect(room.handle(.socketClosed(subject: "xa-a", connection: 2), now: 3100).isEmpty)
        #expect(room.seats["xa-a"]?.leaving == false)
        // The new socket's drop is an ordinary drop: grace, not release.
        #expect(room.handle(.socketClosed(subject: "xa-a", connection: 50), now: 3200)
                .contains(.startGrace(subject: "xa-a", connection: 50, after: .seconds(15))))
    }

    @Test func mediaRequestsAreHandedOnAndObserversDoNotPublish() {
        var room = seated()
        let sdp = #"{"type":"publish","sdp":"v=0"}"#
        #expect(request(&room, a, sdp) == [.media(a, .publish(sdp: "v=0", layer: nil))])
        let observer = Caller(subject: "watcher", role: .observer, connection: 40)
        _ = room.handle(.join(observer), now: 2000)
        #expect(errors(request(&room, observer, sdp)) == ["an observer does not publish"])
        #expect(errors(request(&room, observer, #"{"type":"publish"}"#)) == ["an observer does not publish"])
        #expect(request(&room, a, #"{"type":"mode","mode":"mixed"}"#) == [.media(a, .mode(mixed: true))])
        #expect(request(&room, a, #"{"type":"ping"}"#) == [.reply(connection: 2, .pong)])
    }

    @Test(arguments: [
        ("not json", #"expected a JSON object with a "type" (docs/protocol.md)"#),
        (#"{"type":"ping","audio":"loud"}"#, #"expected a JSON object with a "type" (docs/protocol.md)"#),
        (#"{"type":"dance"}"#, "unknown message type 'dance' (docs/protocol.md lists them)"),
        (#"{"type":"mute"}"#, #"mute needs "audio": true or false"#),
        (#"{"type":"publish"}"#, #"publish needs "sdp": the offer"#),
        (#"{"type":"publish","session":"s"}"#, #"publish needs "sdp": the offer"#),
        (#"{"type":"publish","sdp":"v=0","layer":"huge"}"#, #"layer: one of "low", "medium", "high""#),
        (#"{"type":"subscribe","participant":"xa-a"}"#, #"subscribe needs "sdp": the offer"#),
        (#"{"type":"layer","participant":"xa-a"}"#, #"layer needs "participant" (or "session") and "layer""#),
        (#"{"type":"layer","layer":"low"}"#, #"layer needs "session" and "layer""#),
        (#"{"type":"layer","session":"s","layer":"top"}"#, #"layer: one of "low", "medium", "high""#),
        (#"{"type":"downlink","participants":"some"}"#, #"downlink needs "participants": "all" or a list of at most 64 subjects"#),
        (#"{"type":"answer","session":"s","sdp":"v=0"}"#, #"answer needs "session", "revision" and "sdp""#),
        (#"{"type":"restart"}"#, #"restart needs "session""#),
        (#"{"type":"mode","mode":"loud"}"#, #"mode needs "mode": "mixed" or "forwarded""#),
        (#"{"type":"mute_participant","participant":"xa-a"}"#, #"mute_participant needs "participant" and "muted""#),
        (#"{"type":"ask_unmute"}"#, #"ask_unmute needs "participant""#),
        (#"{"type":"lock"}"#, #"lock needs "locked": true or false"#),
    ])
    func malformedRequestsGetTheProtocolsErrorTexts(json: String, expected: String) {
        var room = seated()
        #expect(errors(request(&room, chair, json)) == [expected])
    }

    @Test func requestsDecodeToTheirCase() throws {
        func parse(_ json: String) throws -> RoomRequest { try RoomRequest.parse(json).get() }
        #expect(try parse(#"{"type":"subscribe","sdp":"x","layer":"medium"}"#) == .subscribe(participant: "", sdp: "x", layer: 1))
        #expect(try parse(#"{"type":"layer","participant":"xa-b","layer":"high"}"#) == .downlinkLayer(participant: "xa-b", layer: 2))
        #expect(try parse(#"{"type":"layer","session":"s","layer":"low"}"#) == .sessionLayer(session: "s", layer: 0))
        #expect(try parse(#"{"type":"downlink","participants":"all"}"#) == .downlink(watch: nil))
        #expect(try parse(#"{"type":"downlink","participants":["a","b"]}"#) == .downlink(watch: ["a", "b"]))
        #expect(try parse(#"{"type":"answer","session":"s","revision":3,"sdp":"x"}"#) == .answer(session: "s", revision: 3, sdp: "x"))
        #expect(try parse(#"{"type":"publish","session":"s","sdp":"x"}"#) == .restartPublish(session: "s", sdp: "x"))
        #expect(try parse(#"{"type":"spotlight"}"#) == .spotlight(nil))
    }

    @Test func outboundMessagesKeepTheirWireFormAndSayWhichOnesClose() {
        #expect(RoomOutbound.pong.text == #"{"type":"pong"}"#)
        #expect(RoomOutbound.ended.text == #"{"message":"the chair ended the meeting","type":"ended"}"#)
        #expect(RoomOutbound.replaced.text == #"{"message":"you joined again from another connection","type":"replaced"}"#)
        #expect(RoomOutbound.error("x").text == HubMessage.error("x"))
        #expect(RoomOutbound.ended.closes == .ended && RoomOutbound.replaced.closes == .replaced && RoomOutbound.bye.closes == nil)
    }
}
