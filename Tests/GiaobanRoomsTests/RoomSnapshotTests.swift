import Foundation
import GiaobanAuth
@testable import GiaobanRooms
import Testing

/// A room taken over from a dead node (docs/postgresql.md, "Meetings across nodes"): the seats
/// its last holder wrote come back as waiting for their reconnect.
@Suite struct RoomSnapshotTests {
    typealias Caller = RoomEvent.Caller

    /// A room on the first node: the chair, a commune with its hand up, another muted by the
    /// chair; locked, the commune in the spotlight, recording.
    func firstNode() -> RoomState {
        var room = RoomState(meeting: 7, seatGrace: .seconds(15), rosterInterval: .milliseconds(50), recordMode: .onRequest)
        _ = room.handle(.join(Caller(subject: "officer", role: .chair, connection: 1)), now: 1000)
        _ = room.handle(.join(Caller(subject: "xa-a", role: .commune, connection: 2)), now: 1001)
        _ = room.handle(.join(Caller(subject: "xa-b", role: .commune, connection: 3)), now: 1002)
        room.seats["xa-a"]?.hand = true
        room.seats["xa-b"]?.mutedByChair = true
        room.seats["xa-b"]?.audioMuted = true
        room.seats["xa-b"]?.publishing = "whip-1"
        room.locked = true
        room.spotlight = "xa-a"
        room.recording = true
        return room
    }

    @Test func theSnapshotRoundTripsThroughJSONInJoiningOrder() throws {
        let snapshot = firstNode().snapshot
        #expect(snapshot.seats.map(\.subject) == ["officer", "xa-a", "xa-b"])
        let decoded = try JSONDecoder().decode(RoomSnapshot.self, from: JSONEncoder().encode(snapshot))
        #expect(decoded == snapshot)
        #expect(decoded.locked && decoded.recording && decoded.spotlight == "xa-a")
    }

    @Test func takenOverSeatsWaitForTheirParticipantsWhoGetThemBackWithHandsAndMutes() {
        let snapshot = firstNode().snapshot
        var room = RoomState(meeting: 7, seatGrace: .seconds(15), rosterInterval: .milliseconds(50), recordMode: .onRequest)
        let actions = room.handle(.restore(snapshot, connections: ["officer": 101, "xa-a": 102, "xa-b": 103]), now: 9000)
        #expect(actions.first == .opened)
        #expect(actions.contains(.setRecording(true)))
        #expect(actions.contains(.startGrace(subject: "xa-a", connection: 102, after: .seconds(15))))
        #expect(!actions.contains { if case .recordJoin = $0 { true } else { false } }, "they never left: no new attendance")
        #expect(room.seats.values.allSatisfy { $0.disconnected && $0.publishing == nil })
        #expect(room.locked && room.spotlight == "xa-a" && room.recording)
        #expect(room.seats["xa-b"]?.mutedByChair == true && room.seats["xa-b"]?.audioMuted == true)
        #expect(room.seats["officer"]?.role == .chair && room.seats["officer"]?.joinedAt == 1000)

        // The commune comes back (the room is locked, but its seat is kept): hand still up.
        let back = room.handle(.join(Caller(subject: "xa-a", role: .commune, connection: 7)), now: 9500)
        #expect(back.contains { if case .reply(7, .joined) = $0 { true } else { false } })
        #expect(!back.contains { if case .recordJoin = $0 { true } else { false } })
        #expect(room.seats["xa-a"]?.hand == true && room.seats["xa-a"]?.disconnected == false)
        // Its grace timer fires for the old number and does nothing; a newcomer stays out.
        #expect(room.handle(.graceExpired(subject: "xa-a", connection: 102), now: 24_000).isEmpty)
        #expect(room.handle(.join(Caller(subject: "xa-c", role: .commune, connection: 8)), now: 9600)
                == [.refuse(connection: 8, reason: "the room is locked by the chair")])
        // One who does not come back gives the seat up when the grace runs out; attendance records it.
        let gone = room.handle(.graceExpired(subject: "xa-b", connection: 103), now: 24_001)
        #expect(gone.contains(.recordLeave(subject: "xa-b", at: 24_001)))
        #expect(room.seats["xa-b"] == nil)
        // A publisher muted by the chair before is muted again when it publishes here.
        var again = RoomState(meeting: 7)
        _ = again.handle(.restore(snapshot, connections: ["officer": 1, "xa-a": 2, "xa-b": 3]), now: 9000)
        _ = again.handle(.join(Caller(subject: "xa-b", role: .commune, connection: 4)), now: 9100)
        #expect(again.handle(.published(subject: "xa-b", session: "whip-9"), now: 9200).contains(.setAudioMuted(stream: "m7-xa-b", muted: true)))
    }

    @Test func aParticipantAlreadySeatedHereKeepsItsSeatAndCamerasAreLeftOut() {
        var first = firstNode()
        first.seats["cam-1"] = RoomState.Seat(role: .camera, connection: RoomState.cameraConnection, joinedAt: 1003)
        let snapshot = first.snapshot
        #expect(!snapshot.seats.contains { $0.subject == "cam-1" })
        var room = RoomState(meeting: 7)
        _ = room.handle(.join(Caller(subject: "xa-a", role: .commune, connection: 5)), now: 8000)
        let actions = room.handle(.restore(snapshot, connections: ["officer": 11, "xa-a": 12, "xa-b": 13]), now: 8001)
        #expect(!actions.contains(.opened), "the room was open already")
        #expect(room.seats["xa-a"]?.connection == 5 && room.seats["xa-a"]?.disconnected == false)
        #expect(room.seats["officer"]?.disconnected == true)
        #expect(room.handle(.restore(snapshot, connections: [:]), now: 8002).isEmpty, "nothing left to restore")
    }
}
