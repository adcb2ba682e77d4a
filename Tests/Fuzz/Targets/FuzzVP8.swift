// Parses a VP8 payload descriptor, reads every field, rebuilds it with
// VP8PayloadDescriptorBuilder, re-parses and compares; rewrites the picture ID in a copy.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let d = try? VP8PayloadDescriptor(bytes) else { return 0 }
    precondition(d.descriptorLength >= 1 && d.descriptorLength <= 6 && d.descriptorLength < size)
    let size = d.keyFrameSize
    if size != nil { precondition(d.isKeyFrame) }

    let builder = VP8PayloadDescriptorBuilder(
        isNonReference: d.isNonReference, isStartOfPartition: d.isStartOfPartition,
        partitionIndex: d.partitionIndex, pictureID: d.pictureID, longPictureID: d.hasLongPictureID,
        tl0PicIdx: d.tl0PicIdx, temporalLayer: d.temporalLayer, isLayerSync: d.isLayerSync,
        keyIndex: d.keyIndex)
    var out = [UInt8](repeating: 0, count: builder.marshalSize)
    do {
        _ = try out.withUnsafeMutableBytes { try builder.marshal(into: $0) }
    } catch {
        fatalError("re-marshal failed: \(error)")
    }
    out.append(contentsOf: d.payload)
    out.withUnsafeBytes { raw in
        guard let again = try? VP8PayloadDescriptor(raw) else { fatalError("re-parse failed") }
        precondition(again.isNonReference == d.isNonReference && again.isStartOfPartition == d.isStartOfPartition)
        precondition(again.partitionIndex == d.partitionIndex && again.pictureID == d.pictureID)
        precondition(again.hasLongPictureID == d.hasLongPictureID && again.tl0PicIdx == d.tl0PicIdx)
        precondition(again.temporalLayer == d.temporalLayer && again.isLayerSync == d.isLayerSync)
        precondition(again.keyIndex == d.keyIndex && again.isKeyFrame == d.isKeyFrame)
        precondition(again.payload.elementsEqual(d.payload))
        precondition(again.keyFrameSize?.width == size?.width && again.keyFrameSize?.height == size?.height)
    }

    var copy = Array(bytes)
    copy.withUnsafeMutableBytes { raw in
        if d.pictureID != nil { try? d.setPictureID(0x1ABC, in: raw) }
        if d.tl0PicIdx != nil { try? d.setTL0PicIdx(0x5A, in: raw) }
    }
    copy.withUnsafeBytes { raw in
        guard let again = try? VP8PayloadDescriptor(raw) else { fatalError("rewritten descriptor does not parse") }
        precondition(again.descriptorLength == d.descriptorLength)
        if d.pictureID != nil { precondition(again.pictureID == (d.hasLongPictureID ? 0x1ABC : 0x3C)) }
        if d.tl0PicIdx != nil { precondition(again.tl0PicIdx == 0x5A) }
    }
    return 0
}
