/// A small TOML subset, enough for Giaoban's configuration: `[section]` headers,
/// `key = value` pairs with strings ("…", with \" \\ \n \t escapes), integers, booleans and
/// arrays of those; `#` comments. Anything else is an error with its line number.
public struct ConfigFile: Sendable, Equatable {
    /// A configuration value.
    public enum Value: Sendable, Equatable, CustomStringConvertible {
        /// A string.
        case string(String)
        /// An integer.
        case integer(Int)
        /// A boolean.
        case boolean(Bool)
        /// An array of values.
        case array([Value])

        public var description: String {
            switch self {
            case .string(let s): "\"\(s)\""
            case .integer(let i): String(i)
            case .boolean(let b): String(b)
            case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
            }
        }
    }

    /// Values by "section.key" (keys before any section have no prefix).
    public private(set) var values: [String: Value] = [:]
    /// The line each key was set on, for error messages.
    public private(set) var lines: [String: Int] = [:]

    /// An empty configuration.
    public init() {}

    /// Parses configuration text; `source` names the file in errors.
    public init(parsing text: String, source: String = "configuration") throws(ConfigError) {
        var section = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = Self.stripComment(Substring(raw)).trimmingWhitespace()
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    throw ConfigError("\(source):\(lineNumber): a section header is written [name]")
                }
                section = String(line.dropFirst().dropLast()).trimmingWhitespace()
                guard Self.isBareKey(section) else {
                    throw ConfigError("\(source):\(lineNumber): '\(section)' is not a valid section name")
                }
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                throw ConfigError("\(source):\(lineNumber): expected 'key = value'")
            }
            let key = String(line[..<eq]).trimmingWhitespace()
            guard Self.isBareKey(key) else { throw ConfigError("\(source):\(lineNumber): '\(key)' is not a valid key") }
            let full = section.isEmpty ? key : section + "." + key
            guard values[full] == nil else {
                throw ConfigError("\(source):\(lineNumber): '\(full)' is set twice (first on line \(lines[full] ?? 0))")
            }
            var rest = Substring(String(line[line.index(after: eq)...]).trimmingWhitespace())
            let value = try Self.parseValue(&rest, where: "\(source):\(lineNumber)")
            guard rest.trimmingWhitespace().isEmpty else {
                throw ConfigError("\(source):\(lineNumber): unexpected '\(rest)' after the value of '\(full)'")
            }
            values[full] = value
            lines[full] = lineNumber
        }
    }

    /// Sets a value (used for environment overrides).
    public mutating func set(_ key: String, _ value: Value) {
        values[key] = value
        lines[key] = 0
    }

    static func isBareKey(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { c in
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-"
        }
    }

    /// Removes a `#` comment that is not inside a string.
    static func stripComment(_ line: Substring) -> Substring {
        var inString = false, escaped = false
        for i in line.indices {
            let c = line[i]
            if escaped { escaped = false; continue }
            if c == "\\" && inString { escaped = true; continue }
            if c == "\"" { inString.toggle() }
            if c == "#" && !inString { return line[..<i] }
        }
        return line
    }

    static func parseValue(_ s: inout Substring, where location: String) throws(ConfigError) -> Value {
        s = Substring(String(s).trimmingWhitespace())
        guard let first = s.first else { throw ConfigError("\(location): missing value") }
        if first == "\"" {
            s.removeFirst()
            var out = ""
            while let c = s.popFirst() {
                if c == "\"" { return .string(out) }
                if c == "\\" {
                    switch s.popFirst() {
                    case "\"": out.append("\"")
                    case "\\": out.append("\\")
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    default: throw ConfigError("\(location): unknown escape in string")
                    }
                } else {
                    out.append(c)
                }
            }
            throw ConfigError("\(location): unterminated string")
        }
        if first == "[" {
            s.removeFirst()
            var items: [Value] = []
            while true {
                s = Substring(String(s).trimmingWhitespace())
                if s.first == "]" { s.removeFirst(); return .array(items) }
                items.append(try parseValue(&s, where: location))
                s = Substring(String(s).trimmingWhitespace())
                if s.first == "," { s.removeFirst(); continue }
                if s.first == "]" { s.removeFirst(); return .array(items) }
                throw ConfigError("\(location): expected ',' or ']' in array")
            }
        }
        let token = s.prefix { $0 != "," && $0 != "]" && !$0.isWhitespace }
        s = s[token.endIndex...]
        switch token {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        default:
            if let i = Int(token.replacingUnderscores()) { return .integer(i) }
            throw ConfigError("\(location): '\(token)' is not a string, integer, boolean or array (strings need quotes)")
        }
    }
}

/// A configuration problem, with the file, line and key it concerns in the message.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, ready to show an operator.
    public let message: String
    /// Creates an error with a message for the operator.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }

    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
