import ArgumentParser
import GiaobanServer

/// `giaoban version`: prints the version.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and exit.")

    func run() {
        print("giaoban \(GiaobanVersion.string)")
    }
}
