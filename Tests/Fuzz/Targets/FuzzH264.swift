// Reads the input as an H.264 RTP payload (RFC 6184): whether it starts a keyframe must
// agree with its first NAL unit type (IDR, SPS, STAP-A or FU-A only), and a STAP-A or FU-A
// cut short never reads past the end (the address sanitizer checks). The input as text is
// also read as a profile-level-id.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let key = H264Payload.startsKeyframe(bytes)
    if key {
        precondition([5, 7, 24, 28].contains(bytes[0] & 0x1F), "a keyframe start of type \(bytes[0] & 0x1F)")
        if bytes[0] & 0x1F == 28 { precondition(size >= 2 && bytes[1] & 0x80 != 0) }
    }
    // Every prefix of a non-aggregated, non-fragmented unit answers the same as the whole.
    if size > 1, ![24, 28].contains(bytes[0] & 0x1F) {
        precondition(H264Payload.startsKeyframe(UnsafeRawBufferPointer(rebasing: bytes[0..<1])) == key)
    }
    if let text = String(validating: bytes, as: UTF8.self) {
        if let profile = H264Payload.profile(of: text) { precondition(!profile.isEmpty) }
    }
    return 0
}
