import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A small element tree read with Foundation's XMLParser: names without namespace prefixes,
/// text content trimmed. Enough for CAP; no DTDs, no external entities, bounded depth.
struct XMLTreeElement {
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
        let head = String(decoding: data.prefix(4096), as: UTF8.self).lowercased()
        guard !head.contains("<!doctype"), !head.contains("<!entity") else {
            throw IncidentValidationError("body", "a document type declaration (DTD) is not accepted in CAP")
        }
        let builder = TreeBuilder()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        let ok = parser.parse()
        if let failure = builder.failure { throw failure }
        guard ok, let root = builder.root else {
            let detail = parser.parserError.map { ($0 as NSError).localizedDescription } ?? "no root element"
            throw IncidentValidationError("body", "is not well-formed XML (line \(parser.lineNumber), column \(parser.columnNumber): \(detail))")
        }
        return root
    }

    /// Collects elements on a stack as XMLParser reports them.
    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var stack: [XMLTreeElement] = []
        var root: XMLTreeElement?
        var failure: IncidentValidationError?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            guard stack.count < XMLTreeElement.maxDepth else {
                failure = IncidentValidationError("body", "XML nested deeper than \(XMLTreeElement.maxDepth) elements")
                parser.abortParsing()
                return
            }
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            stack.append(XMLTreeElement(name: local, namespace: namespaceURI))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            guard var element = stack.popLast() else { return }
            element.text = element.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
        }
    }
}
