import Foundation

/// A small element tree for CAP: element names without their namespace prefixes, each
/// element's namespace URI, text content (entities and CDATA decoded) trimmed.
///
/// Read by our own parser of the XML subset CAP documents use — elements, attributes,
/// namespaces, character and the five predefined entity references, CDATA, comments and
/// processing instructions — rather than FoundationXML: fuzzing found that XMLParser on Linux
/// crashes on some malformed input (a processing instruction without data makes it call
/// strlen on NULL; element names that are not UTF-8 trap) and leaks on every syntax error.
/// DTDs are refused (no entity expansion, no external resources); nesting is bounded.
struct XMLTreeElement: Equatable {
    var name: String
    var namespace: String?
    var text = ""
    var children: [XMLTreeElement] = []

    /// The first child named `name`.
    func child(_ name: String) -> XMLTreeElement? { children.first { $0.name == name } }

    /// Every child named `name`.
    func children(_ name: String) -> [XMLTreeElement] { children.filter { $0.name == name } }

    /// The trimmed text of the first child named `name`, nil if absent.
    func value(_ name: String) -> String? { child(name)?.text }

    /// The deepest nesting accepted.
    static let maxDepth = 32

    /// Parses `data` into its root element; the error says where and why parsing failed.
    static func parse(_ data: Data) throws(IncidentValidationError) -> XMLTreeElement {
        guard String(validating: data, as: UTF8.self) != nil else {
            throw IncidentValidationError("body", "is not UTF-8 text (CAP 1.2 documents are UTF-8)")
        }
        var reader = XMLReader(bytes: Array(data))
        do {
            return try reader.document()
        } catch let failure as XMLReader.Failure {
            throw failure.dtd
                ? IncidentValidationError("body", "a document type declaration (DTD) is not accepted in CAP")
                : failure.depth
                ? IncidentValidationError("body", "XML nested deeper than \(maxDepth) elements")
                : IncidentValidationError("body", "is not well-formed XML (line \(failure.line), column \(failure.column): \(failure.reason))")
        } catch {
            throw IncidentValidationError("body", "is not well-formed XML")
        }
    }
}

/// A cursor over the document's bytes (validated UTF-8).
struct XMLReader {
    struct Failure: Error {
        var reason: String
        var line: Int
        var column: Int
        var dtd = false
        var depth = false
    }

    let bytes: [UInt8]
    var position = 0
    /// Namespace bindings, innermost last: prefix ("" for the default) → URI.
    var scopes: [[String: String]] = [["xml": "http://www.w3.org/XML/1998/namespace"]]

    init(bytes: [UInt8]) {
        // A UTF-8 byte order mark is allowed before the document.
        self.bytes = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
    }

    func fail(_ reason: String, dtd: Bool = false, depth: Bool = false) -> Failure {
        var line = 1, column = 1
        for i in 0..<min(position, bytes.count) {
            if bytes[i] == 0x0A { line += 1; column = 1 } else if bytes[i] & 0xC0 != 0x80 { column += 1 }
        }
        return Failure(reason: reason, line: line, column: column, dtd: dtd, depth: depth)
    }

    var atEnd: Bool { position >= bytes.count }

    func peek(_ text: String) -> Bool {
        let t = Array(text.utf8)
        return position + t.count <= bytes.count && Array(bytes[position..<position + t.count]) == t
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    mutating func skipSpace() { while !atEnd, Self.isSpace(bytes[position]) { position += 1 } }

    /// Skips past `terminator`, failing with `what` if it never comes.
    mutating func skip(past terminator: String, _ what: String) throws(Failure) -> ArraySlice<UInt8> {
        let t = Array(terminator.utf8)
        let start = position
        while position + t.count <= bytes.count {
            if bytes[position] == t[0], Array(bytes[position..<position + t.count]) == t {
                let body = bytes[start..<position]
                position += t.count
                return body
            }
            position += 1
        }
        throw fail("unterminated \(what)")
    }

    /// Skips one comment or processing instruction at the cursor; false when there is none.
    /// A `<!` that starts neither a comment nor CDATA is a DTD, refused.
    mutating func skipCommentOrInstruction() throws(Failure) -> Bool {
        if peek("<!--") {
            position += 4
            _ = try skip(past: "-->", "comment")
        } else if peek("<?") {
            position += 2
            _ = try skip(past: "?>", "processing instruction")
        } else if peek("<!"), !peek("<![CDATA[") {
            throw fail("a document type declaration is not accepted", dtd: true)
        } else {
            return false
        }
        return true
    }

    /// Comments, processing instructions and white space between markup.
    mutating func skipMisc() throws(Failure) {
        repeat { skipSpace() } while try skipCommentOrInstruction()
    }

    mutating func document() throws(Failure) -> XMLTreeElement {
        try skipMisc()
        guard peek("<") else { throw fail(atEnd ? "no root element" : "text before the root element") }
        let root = try element(depth: 1)
        try skipMisc()
        guard atEnd else { throw fail("content after the root element") }
        return root
    }

    static func isNameByte(_ b: UInt8, first: Bool) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"), UInt8(ascii: ":"): true
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."): !first
        default: b >= 0x80
        }
    }

    mutating func name() throws(Failure) -> String {
        let start = position
        while !atEnd, Self.isNameByte(bytes[position], first: position == start) { position += 1 }
        guard position > start else { throw fail("a name was expected") }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// `<name attributes…>content</name>` or `<name attributes…/>`, at the opening `<`.
    mutating func element(depth: Int) throws(Failure) -> XMLTreeElement {
        guard depth <= XMLTreeElement.maxDepth else { throw fail("too deep", depth: true) }
        position += 1
        let qualified = try name()
        var attributes: [String: String] = [:]
        while true {
            let hadSpace = !atEnd && Self.isSpace(bytes[position])
            skipSpace()
            guard !atEnd else { throw fail("unterminated start tag <\(qualified)>") }
            if bytes[position] == UInt8(ascii: ">") || peek("/>") { break }
            guard hadSpace else { throw fail("white space is required between attributes") }
            let attribute = try name()
            skipSpace()
            guard !atEnd, bytes[position] == UInt8(ascii: "=") else { throw fail("'=' expected after attribute \(attribute)") }
            position += 1
            skipSpace()
            guard !atEnd, bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'") else {
                throw fail("attribute values are quoted")
            }
            let quote = bytes[position]
            position += 1
            let start = position
            while !atEnd, bytes[position] != quote {
                guard bytes[position] != UInt8(ascii: "<") else { throw fail("'<' inside an attribute value") }
                position += 1
            }
            guard !atEnd else { throw fail("unterminated attribute value") }
            let raw = bytes[start..<position]
            position += 1
            guard attributes[attribute] == nil else { throw fail("attribute \(attribute) repeated") }
            attributes[attribute] = try decode(raw)
        }
        var scope: [String: String] = [:]
        for (key, value) in attributes {
            if key == "xmlns" { scope[""] = value } else if key.hasPrefix("xmlns:") { scope[String(key.dropFirst(6))] = value }
        }
        scopes.append(scope)
        defer { scopes.removeLast() }
        let parts = qualified.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let prefix = parts.count == 2 ? String(parts[0]) : ""
        let local = parts.count == 2 ? String(parts[1]) : qualified
        guard !local.isEmpty, !local.contains(":") else { throw fail("malformed name \(qualified)") }
        let uri = scopes.reversed().lazy.compactMap { $0[prefix] }.first
        guard prefix.isEmpty || uri != nil else { throw fail("namespace prefix \(prefix) is not declared") }
        var node = XMLTreeElement(name: local, namespace: uri)
        if peek("/>") {
            position += 2
            return node
        }
        position += 1
        var text: [UInt8] = []
        while true {
            guard !atEnd else { throw fail("<\(qualified)> is not closed") }
            if peek("</") {
                position += 2
                let closing = try name()
                skipSpace()
                guard closing == qualified else { throw fail("</\(closing)> closes <\(qualified)>") }
                guard !atEnd, bytes[position] == UInt8(ascii: ">") else { throw fail("'>' expected after </\(closing)") }
                position += 1
                break
            } else if peek("<![CDATA[") {
                position += 9
                text += try skip(past: "]]>", "CDATA section")
            } else if try skipCommentOrInstruction() {
                continue
            } else if bytes[position] == UInt8(ascii: "<") {
                node.children.append(try element(depth: depth + 1))
            } else {
                let start = position
                while !atEnd, bytes[position] != UInt8(ascii: "<") { position += 1 }
                text += Array(try decode(bytes[start..<position]).utf8)
            }
        }
        node.text = String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return node
    }

    /// Text with `&…;` references replaced.
    func decode(_ raw: ArraySlice<UInt8>) throws(Failure) -> String {
        guard raw.contains(UInt8(ascii: "&")) else { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        var i = raw.startIndex
        while i < raw.endIndex {
            guard raw[i] == UInt8(ascii: "&") else { out.append(raw[i]); i += 1; continue }
            guard let end = raw[i...].firstIndex(of: UInt8(ascii: ";")), end - i <= 12 else { throw fail("'&' must start an entity reference") }
            let reference = String(decoding: raw[(i + 1)..<end], as: UTF8.self)
            switch reference {
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "amp": out.append(UInt8(ascii: "&"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                let number: UInt32?
                if reference.hasPrefix("#x") { number = UInt32(reference.dropFirst(2), radix: 16) }
                else if reference.hasPrefix("#") { number = UInt32(reference.dropFirst(), radix: 10) }
                else { throw fail("unknown entity &\(reference.prefix(12));") }
                guard let number, number != 0, let scalar = Unicode.Scalar(number) else {
                    throw fail("&\(reference.prefix(12)); is not a character")
                }
                out += Array(String(Character(scalar)).utf8)
            }
            i = end + 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
