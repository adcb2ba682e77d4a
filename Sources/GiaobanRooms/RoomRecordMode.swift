/// `meetings.record`: whether a room's meeting is recorded (docs/recording.md).
package enum RoomRecordMode: String, Sendable, Equatable {
    /// Never.
    case off
    /// When the chair sends `record` with `"on": true`, until `"on": false`.
    case onRequest = "on_request"
    /// From the first participant until the room empties; the chair cannot stop it.
    case always
}
