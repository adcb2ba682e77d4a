// libFuzzer entry point for the Opus TOC parser (RFC 6716 §3.1): any input must either
// throw WireError or yield a packet whose invariants hold.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let toc = try? OpusTOC(bytes) else { return 0 }
    // RFC 6716 §3.2.5: at most 48 frames and 120 ms per packet.
    precondition(toc.frameCount >= 1 && toc.frameCount <= 48, "frame count out of range")
    precondition(toc.durationSamples <= OpusTOC.maximumPacketSamples, "packet longer than 120 ms")
    precondition(toc.config == bytes[0] >> 3, "config must come from the first byte")
    return 0
}
