/// Writing SDP text: the lines in RFC 8866 §5 order, each ended by CRLF.
///
/// Session level: `v o s i u e* p* c b* (t r*)+ z k a*`, then each media section as
/// `m i c* b* k a*`. Attribute lines are written exactly as stored.
extension SessionDescription {
    /// The canonical SDP text with CRLF line endings.
    public func serialize() -> String {
        var out = ""
        out.reserveCapacity(64 * (attributes.count + media.reduce(8) { $0 + $1.attributes.count + 4 }))
        out.sdpLine("v", String(version))
        out.sdpLine("o", origin.description)
        out.sdpLine("s", sessionName)
        if let information { out.sdpLine("i", information) }
        if let uri { out.sdpLine("u", uri) }
        for email in emails { out.sdpLine("e", email) }
        for phone in phones { out.sdpLine("p", phone) }
        if let connection { out.sdpLine("c", connection.description) }
        for bandwidth in bandwidths { out.sdpLine("b", bandwidth.description) }
        for timing in timings {
            out.sdpLine("t", timing.description)
            for repeatLine in timing.repeats { out.sdpLine("r", repeatLine) }
        }
        if let timeZones { out.sdpLine("z", timeZones) }
        if let encryptionKey { out.sdpLine("k", encryptionKey) }
        for attribute in attributes { out.sdpAttribute(attribute) }
        for section in media { section.serialize(into: &out) }
        return out
    }

    /// The serialized text as UTF-8 bytes, e.g. for an HTTP body.
    public var utf8Bytes: [UInt8] { Array(serialize().utf8) }
}

extension MediaDescription {
    /// Appends this section's lines (`m=` first) to `out`, each ended by CRLF.
    public func serialize(into out: inout String) {
        out.sdpLine("m", mediaLine)
        if let information { out.sdpLine("i", information) }
        for connection in connections { out.sdpLine("c", connection.description) }
        for bandwidth in bandwidths { out.sdpLine("b", bandwidth.description) }
        if let encryptionKey { out.sdpLine("k", encryptionKey) }
        for attribute in attributes { out.sdpAttribute(attribute) }
    }
}

extension String {
    /// Appends `<type>=<value>` and CRLF.
    fileprivate mutating func sdpLine(_ type: String, _ value: String) {
        append(type)
        append("=")
        append(value)
        append("\r\n")
    }

    /// Appends `a=<name>[:<value>]` and CRLF.
    fileprivate mutating func sdpAttribute(_ attribute: SDPAttribute) {
        append("a=")
        append(attribute.name)
        if let value = attribute.value {
            append(":")
            append(value)
        }
        append("\r\n")
    }
}

extension MediaDescription: CustomStringConvertible {
    /// This section's lines, `m=` first, each ended by CRLF.
    public var description: String {
        var out = ""
        serialize(into: &out)
        return out
    }
}
