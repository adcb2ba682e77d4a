import GiaobanAuth
import GiaobanHub
@testable import GiaobanRooms
import Testing

/// A directory camera put into the room by the chair (docs/cameras.md): a participant that only
/// publishes, that no socket holds, and that does not keep the room open.
@Suite struct RoomCameraTests {
    let rooms = RoomStateTests()

    func roster(_ room: inout RoomState) -> RoomMessage.Roster? {
        let due = room.handle(.rosterDue, now: 3000)
        guard case .broadcast(.roster(let roster))? = due.first else { return nil }
        return roster
    }

    @Test func theChairPutsACameraInAndTakesItOut() {
        var room = rooms.seated()
        let on = rooms.request(&room, rooms.chair, #"{"type": "camera", "camera": "cam-ql1a", "on": true}"#)
        #expect(on.contains(.feedCamera(camera: "cam-ql1a", stream: "m7-cam-ql1a", on: true)))
        #expect(on.contains(.recordJoin(subject: "cam-ql1a", role: .camera, at: 2000)))
        #expect(on.contains(.renegotiateDownlinks))
        let entry = roster(&room)?.participants.first { $0.subject == "cam-ql1a" }
        #expect(entry?.role == "camera" && entry?.publishing == true && entry?.stream == "m7-cam-ql1a")
        if case .syncGroup(let members, _) = room.group() { #expect(members.contains("m7-cam-ql1a")) } else { Issue.record("no group") }
        // Twice is nothing new; a participant's subject is not a camera.
        #expect(rooms.request(&room, rooms.chair, #"{"type": "camera", "camera": "cam-ql1a", "on": true}"#).isEmpty)
        #expect(rooms.errors(rooms.request(&room, rooms.chair, #"{"type": "camera", "camera": "xa-a", "on": true}"#)) == ["'xa-a' is a participant, not a camera"])
        let off = rooms.request(&room, rooms.chair, #"{"type": "camera", "camera": "cam-ql1a", "on": false}"#)
        #expect(off.contains(.feedCamera(camera: "cam-ql1a", stream: "m7-cam-ql1a", on: false)))
        #expect(!off.contains { if case .closePublisher = $0 { true } else { false } }, "no WHIP session to close for a camera")
        #expect(room.seats["cam-ql1a"] == nil)
        #expect(rooms.errors(rooms.request(&room, rooms.chair, #"{"type": "camera", "camera": "cam-ql1a", "on": false}"#)) == ["'cam-ql1a' is not in the room"])
    }

    @Test func onlyTheChairAndValidFields() {
        var room = rooms.seated()
        #expect(rooms.errors(rooms.request(&room, rooms.a, #"{"type": "camera", "camera": "cam-ql1a", "on": true}"#)) == ["only the chair may camera"])
        #expect(rooms.errors(rooms.request(&room, rooms.chair, #"{"type": "camera", "on": true}"#)).first?.contains("camera") == true)
        #expect(rooms.errors(rooms.request(&room, rooms.chair, #"{"type": "camera", "camera": "cam-ql1a"}"#)).first?.contains("on") == true)
        #expect(room.seats.values.allSatisfy { $0.role != .camera })
    }

    @Test func camerasDoNotKeepTheRoomOpenAndEndSkipsThem() {
        var room = rooms.seated()
        _ = rooms.request(&room, rooms.chair, #"{"type": "camera", "camera": "cam-1", "on": true}"#)
        _ = rooms.request(&room, rooms.chair, #"{"type": "camera", "camera": "cam-2", "on": true}"#)
        let end = rooms.request(&room, rooms.chair, #"{"type": "end"}"#)
        let closed = end.compactMap { if case .close(let subject, _, _) = $0 { subject } else { nil } }
        #expect(Set(closed) == ["officer", "xa-a", "xa-b"], "no socket to close for a camera")
        _ = room.handle(.socketClosed(subject: "xa-a", connection: 2), now: 4000)
        _ = room.handle(.socketClosed(subject: "xa-b", connection: 3), now: 4000)
        let last = room.handle(.socketClosed(subject: "officer", connection: 1), now: 4001)
        #expect(last.contains(.feedCamera(camera: "cam-1", stream: "m7-cam-1", on: false)))
        #expect(last.contains(.feedCamera(camera: "cam-2", stream: "m7-cam-2", on: false)))
        #expect(last.filter { $0 == .dissolved }.count == 1)
        #expect(room.seats.isEmpty)
    }
}
