// Parses an RTP packet, reads every field and extension element, rebuilds it with
// RTPPacketBuilder, re-parses the result and compares; also rewrites a copy in place.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let view = try? RTPPacketView(bytes) else { return 0 }

    var csrcs: [UInt32] = []
    for c in view.csrcs { csrcs.append(c) }
    precondition(csrcs.count == view.csrcCount)
    precondition(view.headerLength + view.payloadLength + view.paddingLength == size)

    var elements: [RTPHeaderExtensionBuilder.Element] = []
    for e in view.extensions {
        precondition(e.id != 0 && e.dataOffset >= 12 && e.dataOffset + e.data.count <= view.headerLength)
        _ = try? AudioLevelExtension(e.data)
        _ = try? TransportSequenceNumberExtension(e.data)
        _ = try? AbsSendTimeExtension(e.data)
        if let text = try? TextHeaderExtension(e.data) { _ = text.equals("mid") }
        precondition(view.extensions.element(id: e.id) != nil)
        elements.append(.init(id: e.id, data: Array(e.data)))
    }
    _ = try? OpusTOC(view.payload)

    // Round trip through the builder (opaque extension blocks are not rebuilt).
    let form = view.extensions.form
    let rebuildExtensions: RTPHeaderExtensionBuilder? =
        view.hasExtension && form != .opaque
        ? RTPHeaderExtensionBuilder(elements: elements, form: form, appBits: UInt8(view.extensions.profile & 0x0F))
        : nil
    let builder = RTPPacketBuilder(
        payloadType: view.payloadType, sequenceNumber: view.sequenceNumber, timestamp: view.timestamp,
        ssrc: view.ssrc, marker: view.marker, csrcs: csrcs, extensions: rebuildExtensions,
        payload: Array(view.payload), paddingLength: UInt8(view.paddingLength))
    var out = [UInt8](repeating: 0, count: builder.marshalSize)
    let written: Int
    do {
        written = try out.withUnsafeMutableBytes { try builder.marshal(into: $0) }
    } catch {
        fatalError("re-marshal failed: \(error)")
    }
    precondition(written == builder.marshalSize)
    out.withUnsafeBytes { raw in
        guard let again = try? RTPPacketView(raw) else { fatalError("re-parse failed") }
        precondition(again.payloadType == view.payloadType && again.marker == view.marker)
        precondition(again.sequenceNumber == view.sequenceNumber && again.timestamp == view.timestamp)
        precondition(again.ssrc == view.ssrc && Array(again.csrcs) == csrcs)
        precondition(again.paddingLength == view.paddingLength)
        precondition(again.payload.elementsEqual(view.payload))
        if rebuildExtensions != nil {
            precondition(again.extensions.form == form)
            precondition(again.extensions.map(\.id) == elements.map(\.id))
            precondition(again.extensions.map { Array($0.data) } == elements.map(\.data))
        }
    }

    // In-place rewrite of a copy touches only the rewritten fields.
    var copy = Array(bytes)
    copy.withUnsafeMutableBytes { raw in
        guard let rw = try? RTPHeaderRewrite(raw, copyOf: view) else { fatalError("rewrite init failed") }
        rw.setSSRC(~view.ssrc)
        rw.setSequenceNumber(view.sequenceNumber &+ 1)
        rw.setTimestamp(view.timestamp &+ 90)
        rw.setPayloadType(view.payloadType ^ 0x01)
        rw.setMarker(!view.marker)
        var elementIterator = view.extensions.makeIterator()
        if let first = elementIterator.next(), first.data.count >= 2 {
            try? rw.setTransportSequenceNumber(0xBEEF, in: first)
        }
    }
    copy.withUnsafeBytes { raw in
        guard let again = try? RTPPacketView(raw) else { fatalError("rewritten packet does not parse") }
        precondition(again.ssrc == ~view.ssrc && again.sequenceNumber == view.sequenceNumber &+ 1)
        precondition(again.timestamp == view.timestamp &+ 90 && again.marker == !view.marker)
        precondition(again.payloadType == view.payloadType ^ 0x01)
        precondition(again.headerLength == view.headerLength && again.payload.elementsEqual(view.payload))
    }
    return 0
}
