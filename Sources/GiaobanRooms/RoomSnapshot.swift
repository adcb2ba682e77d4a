package import GiaobanAuth
import Foundation

/// What a node that takes a room over from a dead node needs to seat its participants again
/// (docs/postgresql.md, "Meetings across nodes"): who sat there with which role since when,
/// their hands and mutes, and the chair's controls. Media is not in it: the sessions died with
/// the node, and the participants publish and watch again when they are back. Cameras are not
/// in it either: the chair puts them in again.
package struct RoomSnapshot: Codable, Sendable, Equatable {
    /// One participant's seat.
    package struct Seat: Codable, Sendable, Equatable {
        package var subject: String
        package var role: String
        package var joined_at: Int64
        package var audio_muted: Bool
        package var muted_by_chair: Bool
        package var hand: Bool
    }

    package var seats: [Seat]
    package var locked: Bool
    package var spotlight: String?
    package var recording: Bool
}

extension RoomSnapshot {
    /// The snapshot as the database keeps it (JSON text).
    package var json: String? {
        (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A snapshot read back from its JSON text; throws when it is not one.
    package init(json: String) throws {
        self = try JSONDecoder().decode(RoomSnapshot.self, from: Data(json.utf8))
    }
}

extension RoomState {
    /// The room as a node taking it over would seat it again (in joining order).
    package var snapshot: RoomSnapshot {
        let people = seats.filter { $0.value.role != .camera }
            .sorted { ($0.value.joinedAt, $0.key) < ($1.value.joinedAt, $1.key) }
            .map { subject, seat in
                RoomSnapshot.Seat(subject: subject, role: seat.role.rawValue, joined_at: seat.joinedAt, audio_muted: seat.audioMuted,
                                  muted_by_chair: seat.mutedByChair, hand: seat.hand)
            }
        return RoomSnapshot(seats: people, locked: locked, spotlight: spotlight.flatMap { seats[$0]?.role == .camera ? nil : $0 },
                            recording: recording)
    }

    /// Seats the participants of a room taken over from a dead node as waiting for their
    /// reconnect (each for the seat grace, under the connection number `connections` gives it),
    /// unless already seated here; restores the lock, the spotlight and recording. Attendance
    /// is not written again: those participants never left.
    mutating func restore(_ snapshot: RoomSnapshot, connections: [String: Int], now: Int64) -> [RoomAction] {
        let first = seats.isEmpty
        var actions: [RoomAction] = []
        var restored: [String] = []
        for seat in snapshot.seats where seats[seat.subject] == nil {
            guard let role = Role(rawValue: seat.role), role != .camera, let connection = connections[seat.subject] else { continue }
            seats[seat.subject] = Seat(role: role, connection: connection, audioMuted: seat.audio_muted, mutedByChair: seat.muted_by_chair,
                                       hand: seat.hand, joinedAt: seat.joined_at, disconnected: true)
            restored.append(seat.subject)
            actions.append(.startGrace(subject: seat.subject, connection: connection, after: seatGrace))
        }
        guard !restored.isEmpty else { return [] }
        locked = locked || snapshot.locked
        if spotlight == nil, let spot = snapshot.spotlight, seats[spot] != nil { spotlight = spot }
        var opening: [RoomAction] = first ? [.opened] : []
        if snapshot.recording && !recording {
            recording = true
            opening.append(.setRecording(true))
        }
        let log = RoomLogEntry(notice: true, message: "took the meeting room over from another node; seats kept for a reconnect",
                               metadata: ["meeting": "\(meeting)", "seats": restored.joined(separator: ","), "for": "\(seatGrace)"])
        return opening + actions + [.log(log)] + rosterChanged()
    }
}
