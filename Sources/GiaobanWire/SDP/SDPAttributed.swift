/// A level of a description that carries `a=` lines: the session or one media section
/// (RFC 8866 §5.13). Typed accessors read and write the attribute list in place.
///
/// Readers skip attributes whose value does not parse; a parsed description has none
/// (the parser checks known attributes), only hand-built lists can.
public protocol SDPAttributed {
    /// The `a=` lines in order.
    var attributes: [SDPAttribute] { get set }
}

extension SDPAttributed {
    /// True when at least one attribute is named `name`.
    public func hasAttribute(_ name: String) -> Bool {
        attributes.contains { $0.name == name }
    }

    /// The value of the first attribute named `name`: nil when absent, `.some(nil)` for a
    /// property attribute.
    public func attributeValue(_ name: String) -> String?? {
        attributes.first { $0.name == name }.map(\.value)
    }

    /// The values of every attribute named `name`, in order (nil entries for property attributes).
    public func attributeValues(_ name: String) -> [String?] {
        attributes.filter { $0.name == name }.map(\.value)
    }

    /// Every attribute of type `T` that parses, in order.
    public func typedAttributes<T: SDPTypedAttribute>(_: T.Type = T.self) -> [T] {
        attributes.compactMap { $0.name == T.attributeName ? try? T(attributeValue: $0.value) : nil }
    }

    /// The first attribute of type `T` that parses.
    public func typedAttribute<T: SDPTypedAttribute>(_: T.Type = T.self) -> T? {
        for attribute in attributes where attribute.name == T.attributeName {
            if let value = try? T(attributeValue: attribute.value) { return value }
        }
        return nil
    }

    /// Appends `value` as an `a=` line.
    public mutating func append(_ value: some SDPTypedAttribute) {
        attributes.append(value.attribute)
    }

    /// Removes every attribute named `name`.
    public mutating func removeAttributes(named name: String) {
        attributes.removeAll { $0.name == name }
    }

    /// Replaces every attribute named `name` with `replacement`, written where the first one
    /// was (or at the end when there was none); an empty replacement removes them.
    public mutating func replaceAttributes(named name: String, with replacement: [SDPAttribute]) {
        let position = attributes.firstIndex { $0.name == name }
        attributes.removeAll { $0.name == name }
        attributes.insert(contentsOf: replacement, at: position ?? attributes.endIndex)
    }

    /// Replaces every attribute of type `T` with `values` (see `replaceAttributes(named:with:)`).
    public mutating func setTypedAttributes<T: SDPTypedAttribute>(_ values: [T]) {
        replaceAttributes(named: T.attributeName, with: values.map(\.attribute))
    }

    /// True when the property attribute `name` (e.g. `rtcp-mux`) is present.
    public func flag(_ name: String) -> Bool { hasAttribute(name) }

    /// Adds the property attribute `name` once at the end (`on`), or removes every copy.
    public mutating func setFlag(_ name: String, _ on: Bool) {
        if on {
            if !hasAttribute(name) { attributes.append(SDPAttribute(name)) }
        } else {
            removeAttributes(named: name)
        }
    }

    /// The trimmed value of the first attribute named `name`, for single-word attributes.
    func word(_ name: String) -> String? {
        guard case let value?? = attributeValue(name) else { return nil }
        let t = SDPText.trimmed(value[...])
        return t.isEmpty ? nil : String(t)
    }

    /// Replaces the attributes named `name` with one holding `value`, or removes them for nil.
    mutating func setWord(_ name: String, _ value: String?) {
        replaceAttributes(named: name, with: value.map { [SDPAttribute(name, $0)] } ?? [])
    }
}
