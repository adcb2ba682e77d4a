// fuzz-sources: Sources/GiaobanIncidents
// Parses raw bytes as a CAP 1.2 alert. Whatever the input, the parser either refuses it
// with a field and a reason or returns an incident whose values are within CAP's sets and
// WGS 84's ranges, with a snapshot only if it is a JPEG.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Data(bytes: data, count: size)
    do {
        let report = try CAPAlert.parseReport(input, source: "fuzz")
        IncidentInvariants.check(report)
    } catch {
        precondition(!error.field.isEmpty && !error.reason.isEmpty, "a refusal must name the field and the reason")
    }
    return 0
}
