// fuzz-sources: Sources/GiaobanIncidents
// Parses raw bytes as a JSON incident report: refused with a field and a reason, or an
// incident within CAP's value sets and WGS 84's ranges.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Data(bytes: data, count: size)
    do {
        let report = try IncidentJSON.parseReport(input, source: "fuzz")
        IncidentInvariants.check(report)
    } catch {
        precondition(!error.field.isEmpty && !error.reason.isEmpty, "a refusal must name the field and the reason")
    }
    return 0
}
