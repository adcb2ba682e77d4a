// libFuzzer entry point for the TURN ChannelData parser (RFC 8656 §12.4): any input must either
// be refused (nil) or yield a channel in 0x4000–0x4FFF and data inside the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let (channel, range) = ChannelData.parse(bytes) else { return 0 }
    precondition(ChannelData.isChannelData(bytes), "parsed what does not look like ChannelData")
    precondition(ChannelData.channels.contains(channel), "channel out of range")
    precondition(range.lowerBound == ChannelData.headerByteCount && range.upperBound <= size, "data outside the input")
    precondition(range.count == Int(bytes[2]) << 8 | Int(bytes[3]), "data length is not the header's")
    return 0
}
