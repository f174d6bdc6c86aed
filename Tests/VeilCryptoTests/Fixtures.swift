import Foundation
import Testing
import VeilTestSupport

/// Locations and helpers shared by the crypto tests.
enum Fixtures {
    /// The repository root, found from this source file's path.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Decodes a JSON vector file from the test bundle's `Vectors` folder.
    static func vectors<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors"))
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }

    /// Runs `python3 script` with `input` on stdin; returns stdout. Fails the test when python3 or a
    /// module is missing (`scripts/install-deps.sh` installs them).
    static func python(_ script: String, input: Data) throws -> String {
        let outcome = try Subprocess.run("/usr/bin/env", ["python3", repositoryRoot.appendingPathComponent(script).path], input: input)
        #expect(outcome.status == 0, "python3 \(script) failed (run scripts/install-deps.sh for PyNaCl): \(outcome.errors)")
        return outcome.output
    }
}
