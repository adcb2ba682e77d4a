public import Testing

/// A suite's trait: each of its tests waits for the test run's PostgreSQL server
/// (`PostgresServer.start`, off the cooperative pool) before it runs. A synchronous test that
/// asks for the server first (`TemporaryStore`, `PostgresServer.shared`) would hold one of the
/// pool's threads, as many as the machine has cores, while initdb and pg_ctl run: at the start
/// of a parallel run those tests take every thread, and every other test in the process stalls.
public struct PostgresStarted: SuiteTrait, TestTrait, TestScoping {
    /// Applies to every test of the suite.
    public var isRecursive: Bool { true }

    /// A scope around each test case.
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? { testCase == nil ? nil : self }

    /// Starts the server (a failure is the test's own to report, from `shared()`), then runs the test.
    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        _ = try? await PostgresServer.start()
        try await function()
    }
}

extension Trait where Self == PostgresStarted {
    /// PostgreSQL runs before each test (`PostgresStarted`).
    public static var postgresStarted: Self { Self() }
}
