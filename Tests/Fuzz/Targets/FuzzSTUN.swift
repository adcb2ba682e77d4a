/// Fuzz target for STUN (RFC 8489): parse, walk every attribute through the typed decoders,
/// check MESSAGE-INTEGRITY and FINGERPRINT, then rebuild the message with the builder,
/// re-parse it and compare; a mismatch traps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = STUNMessageView.isSTUN(bytes)
    guard let view = try? STUNMessageView(bytes) else { return 0 }
    let key = HMACSHA1(key: "fuzz-password")
    try? view.verifyMessageIntegrity(key)
    try? view.verifyFingerprint()
    _ = view.username?.valueEquals("user:name")
    _ = view.unknownComprehensionRequiredTypes()

    var builder = STUNMessageBuilder(type: view.type, transactionID: view.transactionID,
                                     integrityKey: view.hasMessageIntegrity ? key : nil,
                                     fingerprint: view.hasFingerprint)
    var fits = true
    for attribute in view.attributes {
        if let list = try? attribute.unknownAttributes() {
            for type in list { _ = type.isComprehensionRequired }
        }
        _ = try? attribute.errorCode()
        if skipped(attribute.type) { continue }
        let value = typed(attribute, view.transactionID) ?? .raw(attribute.type, Array(attribute.value))
        do throws(WireError) { try builder.append(value) } catch { fits = false }
    }
    guard fits else { return 0 }

    var out = [UInt8](repeating: 0, count: builder.marshalSize)
    let written: Int
    do {
        written = try out.withUnsafeMutableBytes { try builder.marshal(into: $0) }
    } catch {
        return 0  // e.g. a rebuilt message longer than 65535 bytes
    }
    precondition(written == out.count, "marshal wrote \(written) of \(out.count)")
    out.withUnsafeBytes { raw in
        guard let again = try? STUNMessageView(raw) else { preconditionFailure("rebuilt message does not parse") }
        precondition(again.type == view.type && again.transactionID == view.transactionID)
        precondition(raw.u16(at: 0) == bytes.u16(at: 0))
        if view.hasMessageIntegrity { precondition((try? again.verifyMessageIntegrity(key)) != nil) }
        if view.hasFingerprint { precondition((try? again.verifyFingerprint()) != nil) }
        var left = view.attributes.makeIterator()
        var right = again.attributes.makeIterator()
        while true {
            var a = left.next()
            while let skip = a, skipped(skip.type) { a = left.next() }
            var b = right.next()
            while let skip = b, skipped(skip.type) { b = right.next() }
            guard let original = a else {
                precondition(b == nil, "extra attribute")
                break
            }
            guard let rebuilt = b else { preconditionFailure("missing attribute") }
            precondition(original.type == rebuilt.type)
            if let first = typed(original, view.transactionID) {
                precondition(typed(rebuilt, again.transactionID) == first, "typed value differs")
            } else {
                precondition(original.value.elementsEqual(rebuilt.value), "raw value differs")
            }
        }
    }
    return 0
}

/// Attributes the builder computes itself or that would change the ignore rules.
private func skipped(_ type: STUNAttributeType) -> Bool {
    type == .messageIntegrity || type == .fingerprint || type == .messageIntegritySHA256
}

/// The typed value for the attributes the builder encodes by type, when the value decodes.
private func typed(_ attribute: STUNAttribute, _ id: STUNTransactionID) -> STUNAttributeValue? {
    switch attribute.type {
    case .xorMappedAddress: (try? attribute.xorMappedAddress(transactionID: id)).map { .xorMappedAddress($0) }
    case .mappedAddress: (try? attribute.mappedAddress()).map { .mappedAddress($0) }
    case .priority: (try? attribute.uint32()).map { .priority($0) }
    case .iceControlled: (try? attribute.uint64()).map { .iceControlled($0) }
    case .iceControlling: (try? attribute.uint64()).map { .iceControlling($0) }
    case .useCandidate: attribute.value.isEmpty ? .useCandidate : nil
    default: nil
    }
}
