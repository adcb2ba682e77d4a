// Parses a VP9 payload descriptor, reads every field (reference indices, scalability
// structure), rebuilds it with VP9PayloadDescriptorBuilder, re-parses and compares.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let d = try? VP9PayloadDescriptor(bytes) else { return 0 }
    precondition(d.descriptorLength >= 1 && d.descriptorLength < size)

    var diffs: [UInt8] = []
    for p in d.referenceDiffs { diffs.append(p) }
    precondition(diffs.count == d.referenceDiffCount && diffs.count <= 3)

    var ssBuilder: VP9PayloadDescriptorBuilder.ScalabilityStructure?
    if d.hasScalabilityStructure {
        guard let ss = d.scalabilityStructure else { fatalError("SS flagged but not readable") }
        var resolutions: [VP9PayloadDescriptorBuilder.Resolution] = []
        for layer in 0..<ss.spatialLayerCount {
            if let r = ss.resolution(ofLayer: layer) { resolutions.append(.init(width: r.width, height: r.height)) }
        }
        var group: [VP9PayloadDescriptorBuilder.Picture] = []
        for p in ss.pictureGroup {
            group.append(.init(temporalLayer: p.temporalLayer, isSwitchingUp: p.isSwitchingUp,
                               referenceDiffs: Array(p.referenceDiffs)))
        }
        precondition(group.count == ss.pictureGroupCount)
        ssBuilder = .init(spatialLayerCount: ss.spatialLayerCount, resolutions: resolutions,
                          pictureGroup: ss.hasPictureGroup ? group : nil)
    }
    let layers: VP9PayloadDescriptorBuilder.LayerIndices? = d.hasLayerIndices
        ? .init(temporalLayer: d.temporalLayer ?? 0, isSwitchingUp: d.isSwitchingUp,
                spatialLayer: d.spatialLayer ?? 0, isInterLayerDependent: d.isInterLayerDependent,
                tl0PicIdx: d.tl0PicIdx ?? 0)
        : nil
    let builder = VP9PayloadDescriptorBuilder(
        isInterPicturePredicted: d.isInterPicturePredicted, isFlexibleMode: d.isFlexibleMode,
        isStartOfFrame: d.isStartOfFrame, isEndOfFrame: d.isEndOfFrame,
        isNotUpperLayerReference: d.isNotUpperLayerReference, pictureID: d.pictureID,
        longPictureID: d.pictureIDLength == 2, layerIndices: layers, referenceDiffs: diffs,
        scalabilityStructure: ssBuilder)
    var out = [UInt8](repeating: 0, count: builder.marshalSize)
    do {
        _ = try out.withUnsafeMutableBytes { try builder.marshal(into: $0) }
    } catch {
        fatalError("re-marshal failed: \(error)")
    }
    // Every field is represented: the rebuilt descriptor has the same length and flags
    // (reserved bits of the SS are not kept).
    precondition(out.count == d.descriptorLength && out[0] == bytes[0])
    out.append(contentsOf: d.payload)
    out.withUnsafeBytes { raw in
        guard let again = try? VP9PayloadDescriptor(raw) else { fatalError("re-parse failed") }
        precondition(again.descriptorLength == d.descriptorLength && again.isKeyFrame == d.isKeyFrame)
        precondition(again.pictureID == d.pictureID && again.tl0PicIdx == d.tl0PicIdx)
        precondition(Array(again.referenceDiffs) == diffs)
        precondition(again.temporalLayer == d.temporalLayer && again.spatialLayer == d.spatialLayer)
        precondition(again.isSwitchingUp == d.isSwitchingUp && again.isInterLayerDependent == d.isInterLayerDependent)
        if let ss = d.scalabilityStructure {
            guard let ss2 = again.scalabilityStructure else { fatalError("SS lost") }
            precondition(ss2.length == ss.length && ss2.spatialLayerCount == ss.spatialLayerCount)
            precondition(ss2.pictureGroupCount == ss.pictureGroupCount)
            for layer in 0..<ss.spatialLayerCount {
                precondition(ss2.resolution(ofLayer: layer)?.width == ss.resolution(ofLayer: layer)?.width)
                precondition(ss2.resolution(ofLayer: layer)?.height == ss.resolution(ofLayer: layer)?.height)
            }
            precondition(ss2.pictureGroup.map(\.temporalLayer) == ss.pictureGroup.map(\.temporalLayer))
            precondition(ss2.pictureGroup.map { Array($0.referenceDiffs) } == ss.pictureGroup.map { Array($0.referenceDiffs) })
        }
        precondition(again.payload.elementsEqual(d.payload))
    }

    var copy = Array(bytes)
    copy.withUnsafeMutableBytes { raw in
        if d.pictureID != nil { try? d.setPictureID(0x1ABC, in: raw) }
        if d.tl0PicIdx != nil { try? d.setTL0PicIdx(0x5A, in: raw) }
    }
    copy.withUnsafeBytes { raw in
        guard let again = try? VP9PayloadDescriptor(raw) else { fatalError("rewritten descriptor does not parse") }
        if d.pictureID != nil { precondition(again.pictureID == (d.pictureIDLength == 2 ? 0x1ABC : 0x3C)) }
        if d.tl0PicIdx != nil { precondition(again.tl0PicIdx == 0x5A) }
    }
    return 0
}
