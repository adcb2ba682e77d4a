/// The one error type of the codec wrappers: which library call failed and why.
public struct CodecError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in categories a caller can act on.
    public enum Reason: String, Sendable {
        /// The codec could not be created with the given settings.
        case initFailed
        /// A setting was rejected by the library.
        case badSetting
        /// Encoding a frame failed.
        case encodeFailed
        /// The input could not be decoded (corrupt or truncated).
        case decodeFailed
        /// The caller's buffer is too small for the output.
        case bufferTooSmall
        /// The input has the wrong size or shape (e.g. not 20 ms of samples).
        case badInput
    }

    /// What went wrong.
    public let reason: Reason
    /// The library's own code (Opus error or vpx_codec_err_t), 0 if none.
    public let code: Int32
    /// The library's message, or a short note from the wrapper.
    public let message: String

    /// Creates an error from a reason, the library's code and its message.
    public init(_ reason: Reason, code: Int32 = 0, _ message: String) {
        self.reason = reason
        self.code = code
        self.message = message
    }

    public var description: String { "\(reason.rawValue) (\(code)): \(message)" }
}
