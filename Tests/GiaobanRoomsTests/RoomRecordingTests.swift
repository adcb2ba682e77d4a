import GiaobanAuth
@testable import GiaobanRooms
import Testing

/// `record` on the room socket and the roster's `recording` flag, per `meetings.record`.
@Suite struct RoomRecordingTests {
    let chair = RoomEvent.Caller(subject: "officer", role: .chair, connection: 1)
    let commune = RoomEvent.Caller(subject: "xa-a", role: .commune, connection: 2)

    func room(_ mode: RoomRecordMode) -> (RoomState, opening: [RoomAction]) {
        var room = RoomState(meeting: 7, recordMode: mode)
        let opening = room.handle(.join(chair), now: 1000)
        _ = room.handle(.join(commune), now: 1001)
        return (room, opening)
    }

    func send(_ room: inout RoomState, _ caller: RoomEvent.Caller, _ json: String) -> [RoomAction] {
        switch RoomRequest.parse(json) {
        case .success(let request): room.handle(.request(caller, request), now: 2000)
        case .failure(let invalid): room.handle(.invalid(caller, invalid), now: 2000)
        }
    }

    func errors(_ actions: [RoomAction]) -> [String] {
        actions.compactMap { if case .reply(_, .error(let message)) = $0 { message } else { nil } }
    }

    @Test func alwaysStartsWithTheFirstParticipantAndCannotBeStopped() {
        var (room, opening) = room(.always)
        #expect(opening.contains(.setRecording(true)))
        #expect(room.recording && room.roster().recording)
        #expect(errors(send(&room, chair, #"{"type":"record","on":false}"#)).first?.contains("records every meeting") == true)
        #expect(room.recording)
    }

    @Test func onRequestTheChairStartsAndStopsItAndTheRosterShowsIt() {
        var (room, opening) = room(.onRequest)
        #expect(!opening.contains(.setRecording(true)) && !room.roster().recording)
        #expect(errors(send(&room, commune, #"{"type":"record","on":true}"#)) == ["only the chair may record"])
        #expect(errors(send(&room, chair, #"{"type":"record"}"#)) == [#"record needs "on": true or false"#])
        #expect(send(&room, chair, #"{"type":"record","on":true}"#).contains(.setRecording(true)))
        #expect(room.roster().recording)
        #expect(send(&room, chair, #"{"type":"record","on":true}"#).isEmpty, "already recording: nothing to do")
        #expect(send(&room, chair, #"{"type":"record","on":false}"#).contains(.setRecording(false)))
        #expect(!room.roster().recording)
    }

    @Test func offRefusesTheChair() {
        var (room, opening) = room(.off)
        #expect(!opening.contains(.setRecording(true)))
        #expect(errors(send(&room, chair, #"{"type":"record","on":true}"#)).first?.contains("recording is off") == true)
        #expect(!room.recording)
    }
}
