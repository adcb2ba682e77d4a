/// Why a recording could not be written.
public struct RecordingError: Error, Sendable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Reason: String, Sendable {
        /// The output refused a write or an update (disk full, closed file).
        case output
        /// The writer was used after `finish`, or for a track it does not have.
        case misuse
    }

    /// The kind of failure.
    public let reason: Reason
    /// What happened, for a person.
    public let message: String

    /// A failure of kind `reason`.
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// The reason and the message.
    public var description: String { "\(reason.rawValue): \(message)" }
}

/// Where a WebM file's bytes go: appended in order, with a few header fields overwritten in
/// place by `WebMWriter.finish` (an output that cannot seek back may ignore `patch`).
public protocol WebMOutput: AnyObject {
    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Overwrites bytes already written, starting at `offset` from the start of the file.
    func patch(_ bytes: [UInt8], at offset: Int) throws
}
