import Foundation
import Testing
@testable import GiaobanIncidents

@Suite("CAP XML reader")
struct XMLTreeTests {
    static func parse(_ text: String) throws(IncidentValidationError) -> XMLTreeElement {
        try XMLTreeElement.parse(Data(text.utf8))
    }

    @Test("elements, namespaces, entities, CDATA, comments and processing instructions")
    func wellFormed() throws {
        let root = try Self.parse("""
            \u{FEFF}<?xml version="1.0" encoding="UTF-8"?>
            <!-- camera report -->
            <cap:alert xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2" xmlns="urn:other">
              <cap:identifier>A&amp;B &#x1EA1;&#7841; &lt;x&gt;</cap:identifier>
              <note><![CDATA[<raw> & text]]></note>
              <?app ignored?>
              <empty/>
              <cap:info lang='vi'><cap:event>Tai nạn</cap:event></cap:info>
            </cap:alert>
            <!-- after -->
            """)
        #expect(root.name == "alert")
        #expect(root.namespace == "urn:oasis:names:tc:emergency:cap:1.2")
        #expect(root.value("identifier") == "A&B ạạ <x>")
        #expect(root.child("note")?.namespace == "urn:other")
        #expect(root.value("note") == "<raw> & text")
        #expect(root.child("empty") != nil)
        #expect(root.child("info")?.value("event") == "Tai nạn")
    }

    @Test("malformed documents are errors with line and column, never a crash", arguments: [
        ("<a><b></a>", "</a> closes <b>"),
        ("<a>&nbsp;</a>", "unknown entity"),
        ("<a>x & y</a>", "entity reference"),
        ("<a>&#0;</a>", "not a character"),
        ("<a x='1' x='2'/>", "repeated"),
        ("<a x=1/>", "quoted"),
        ("<p:a/>", "prefix p is not declared"),
        ("<a></a><b/>", "after the root"),
        ("text", "text before"),
        ("", "no root element"),
        ("<a><!-- open</a>", "unterminated comment"),
        ("<a>", "not closed"),
        // Inputs that crashed FoundationXML's XMLParser (found by fuzzing):
        ("<?xml version=\"A t). -->\n<alncy:c<?xmersio?>\n<aml", "not"),
    ])
    func malformed(text: String, reason: String) {
        do {
            _ = try Self.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.field == "body")
            #expect(error.reason.contains(reason), "\(error.reason)")
        }
    }

    @Test("bytes that are not UTF-8, DTDs and deep nesting are refused")
    func refused() {
        var bad = Data("<alert><ident".utf8)
        bad.append(contentsOf: [0xFF, 0xFE])
        bad.append(contentsOf: Data("/></alert>".utf8))
        #expect(throws: IncidentValidationError("body", "is not UTF-8 text (CAP 1.2 documents are UTF-8)")) { _ = try XMLTreeElement.parse(bad) }
        #expect(throws: IncidentValidationError("body", "a document type declaration (DTD) is not accepted in CAP")) {
            _ = try Self.parse(#"<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#)
        }
        let deep = String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40)
        #expect(throws: IncidentValidationError("body", "XML nested deeper than 32 elements")) { _ = try Self.parse(deep) }
    }
}
