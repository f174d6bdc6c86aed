import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilPrivacy
import VeilTestSupport

@Suite struct AuditTamperTests {
    let key = SigningKey.generate()

    @Test func flippedByteInABodyIsNamed() throws {
        let directory = try ScratchDirectory()
        var (_, lines) = try writeLog(count: 5, key: key, in: directory)
        lines[2] = lines[2].replacingOccurrences(of: "fine", with: "fane")
        let failure = try #require(verify(lines, key).failure)
        #expect(failure.line == 3)
        #expect(failure.seq == 3)
        #expect(failure.reason.contains("hash"))
    }

    @Test func deletedLineIsNamed() throws {
        let directory = try ScratchDirectory()
        var (_, lines) = try writeLog(count: 5, key: key, in: directory)
        lines.remove(at: 2)
        let result = verify(lines, key)
        let failure = try #require(result.failure)
        #expect(failure.line == 3)
        #expect(failure.seq == 4)
        #expect(failure.reason.contains("where 3 was expected"))
        #expect(result.recordsChecked == 2)
    }

    @Test func swappedLinesAreNamed() throws {
        let directory = try ScratchDirectory()
        var (_, lines) = try writeLog(count: 5, key: key, in: directory)
        lines.swapAt(1, 2)
        let failure = try #require(verify(lines, key).failure)
        #expect(failure.line == 2)
        #expect(failure.seq == 3)
    }

    @Test func truncationBehindACheckpointIsNamed() throws {
        let directory = try ScratchDirectory()
        let (log, lines) = try writeLog(count: 6, key: key, in: directory)
        let checkpoint = AuditCheckpoint(head: try log.head(), time: Date(), signingKey: key)
        #expect(verify(lines, key, checkpoint: checkpoint).isValid)
        let truncated = Array(lines.prefix(4))
        #expect(verify(truncated, key).isValid)  // without the checkpoint a truncated log looks fine
        let failure = try #require(verify(truncated, key, checkpoint: checkpoint).failure)
        #expect(failure.seq == 5)
        #expect(failure.line == 5)
        #expect(failure.reason.contains("checkpoint vouches for seq 6"))
    }

    @Test func rewriteBehindACheckpointIsNamed() throws {
        let original = try ScratchDirectory()
        let (log, _) = try writeLog(count: 4, key: key, in: original)
        let checkpoint = AuditCheckpoint(head: try log.head(), time: Date(), signingKey: key)
        // Someone with the key rewrites history: a different, internally consistent log.
        let forged = try ScratchDirectory()
        let forgedLog = try TestLog(dataDirectory: forged.path, signingKey: key)
        for index in 0..<4 { try forgedLog.record(actor: "cli", action: .named("test.forged"), details: ["n": .int(Int64(index))]) }
        let failure = try #require(verify(try readLines(forgedLog.path), key, checkpoint: checkpoint).failure)
        #expect(failure.seq == 4)
        #expect(failure.reason.contains("checkpoint"))
    }

    @Test func checkpointWithABadSignatureFails() throws {
        let directory = try ScratchDirectory()
        let (log, lines) = try writeLog(count: 2, key: key, in: directory)
        let other = AuditCheckpoint(head: try log.head(), time: Date(), signingKey: SigningKey.generate())
        let failure = try #require(verify(lines, key, checkpoint: other).failure)
        #expect(failure.line == nil)
        #expect(failure.reason.contains("signature"))
    }

    @Test func wrongPublicKeyFailsAtTheFirstRecord() throws {
        let directory = try ScratchDirectory()
        let (_, lines) = try writeLog(count: 2, key: key, in: directory)
        let failure = try #require(verify(lines, SigningKey.generate()).failure)
        #expect(failure.line == 1)
        #expect(failure.reason.contains("sig"))
    }

    @Test func malformedLineIsNamed() throws {
        let directory = try ScratchDirectory()
        var (_, lines) = try writeLog(count: 3, key: key, in: directory)
        lines[1] = "not json"
        let failure = try #require(verify(lines, key).failure)
        #expect(failure.line == 2)
        #expect(failure.seq == 2)
    }

    @Test func checkpointSignsTheDocumentedMessage() throws {
        let head = AuditHead(seq: 7, hash: [UInt8](repeating: 0xab, count: 32))
        let checkpoint = AuditCheckpoint(head: head, time: Date(timeIntervalSince1970: 0), signingKey: key)
        let message = Array("veil-audit-checkpoint\n7\n\(String(repeating: "ab", count: 32))".utf8)
        let signature = try #require(Data(base64Encoded: checkpoint.sig))
        #expect(key.publicKey.isValidSignature([UInt8](signature), for: message))
        #expect(checkpoint.time == "1970-01-01T00:00:00.000Z")
        let decoded = try AuditCheckpoint.decode(try JSONEncoder().encode(checkpoint), source: "test")
        #expect(decoded == checkpoint)
    }
}

@Suite struct AuditEpsilonReplayTests {
    let key = SigningKey.generate()

    /// A stand-in accountant: ε values simply add up.
    let sumOfEpsilons: AuditVerifier.EpsilonRecomputation = { mechanisms, _, _ in
        mechanisms.reduce(0.0) { total, mechanism in
            guard case .object(let fields) = mechanism, case .double(let epsilon)? = fields["epsilon"] else { return .nan }
            return total + epsilon
        }
    }

    private func spendLog(cumulative: [Double]) throws -> (ScratchDirectory, [String]) {
        let directory = try ScratchDirectory()
        let log = try TestLog(dataDirectory: directory.path, signingKey: key)
        var previous = 0.0
        for total in cumulative {
            let epsilon = total - previous
            previous = total
            try log.record(
                actor: "trainer-token", action: AuditAction.budgetSpend,
                details: [
                    "dataset": "shop", "mechanism": ["kind": "laplace", "epsilon": .double(epsilon)],
                    "epsilon": .double(epsilon), "delta": 1e-6, "cumulative_epsilon": .double(total),
                ])
            try log.record(actor: "cli", action: AuditAction.budgetRefuse, details: ["dataset": "shop"])
        }
        return (directory, try readLines(log.path))
    }

    @Test func matchingCumulativeEpsilonPasses() throws {
        let (_, lines) = try spendLog(cumulative: [0.5, 1.25, 2.0])
        let result = AuditVerifier.verify(lines: lines, publicKey: key.publicKey, checkpoint: nil, recomputeEpsilon: sumOfEpsilons)
        #expect(result.isValid)
        #expect(result.epsilon.performed)
        #expect(result.epsilon.spendsChecked == 3)
    }

    @Test func wrongCumulativeEpsilonIsNamed() throws {
        let (_, lines) = try spendLog(cumulative: [0.5, 1.25, 2.0])
        let understating: AuditVerifier.EpsilonRecomputation = { mechanisms, delta, accountant in
            (sumOfEpsilons(mechanisms, delta, accountant) ?? 0) + (mechanisms.count == 2 ? 0.1 : 0)
        }
        let failure = try #require(
            AuditVerifier.verify(lines: lines, publicKey: key.publicKey, checkpoint: nil, recomputeEpsilon: understating).failure)
        #expect(failure.seq == 3)
        #expect(failure.reason.contains("cumulative_epsilon"))
    }

    @Test func withoutAnAccountantTheCheckIsSkippedAndSaidSo() throws {
        let (_, lines) = try spendLog(cumulative: [1.0])
        let result = AuditVerifier.verify(lines: lines, publicKey: key.publicKey, checkpoint: nil)
        #expect(result.isValid)
        #expect(!result.epsilon.performed)
        #expect(result.epsilon.note.contains("not recomputed"))
    }
}

/// The model ↔ spend link (`model.train`'s `spend_id`), checked from the log alone.
@Suite struct ModelSpendLinkageTests {
    let key = SigningKey.generate()

    static let mechanism: JSONValue = ["mechanism": "subsampled_gaussian", "sampling_rate": 0.1, "noise_multiplier": 1.25, "steps": 40]

    /// What a run with private evaluation is charged (one spend): its steps composed with its evaluation.
    static let composition: JSONValue = [
        "mechanism": "composition",
        "parts": [mechanism, ["mechanism": "discrete_gaussian", "sigma": 12.5, "sensitivity": 1, "count": 1]],
    ]

    /// A spend by `payer` (spend_id 7) for `mechanism`, then the `train` records given as (actor, details).
    func log(
        payer: String = "ann-train", mechanism: JSONValue = Self.mechanism, cumulativeEpsilon: Double = 1,
        _ trains: [(String, [String: JSONValue])]
    ) throws -> [String] {
        let directory = try ScratchDirectory()
        let log = try TestLog(dataDirectory: directory.path, signingKey: key)
        try log.record(
            actor: payer, action: .budgetSpend,
            details: [
                "spend_id": 7, "mechanism": mechanism, "epsilon": .double(cumulativeEpsilon), "delta": 1e-6,
                "cumulative_epsilon": .double(cumulativeEpsilon),
            ])
        for (actor, details) in trains { try log.record(actor: actor, action: .modelTrain, details: details) }
        return try readLines(log.path)
    }

    static func train(spend: JSONValue? = 7, steps: Int64 = 40, isPrivate: Bool = true) -> [String: JSONValue] {
        var details: [String: JSONValue] = [
            "model_id": "ab", "private": .bool(isPrivate), "sampling_rate": 0.1, "noise_multiplier": 1.25, "steps": .int(steps),
        ]
        if let spend { details["spend_id"] = spend }
        return details
    }

    func verify(_ lines: [String]) -> AuditVerification {
        AuditVerifier.verify(lines: lines, publicKey: key.publicKey, checkpoint: nil)
    }

    @Test func aTrainRecordNamingItsSpendIsLinked() throws {
        let result = verify(try log([("ann-train", Self.train())]))
        #expect(result.isValid)
        #expect(result.linkage.modelsLinked == 1 && result.linkage.modelsUnlinked == 0)
    }

    @Test func aRunWithPrivateEvaluationIsLinkedToItsComposedSpend() throws {
        var train = Self.train()
        train["evaluation_noise_sigma"] = 12.5
        let result = verify(try log(mechanism: Self.composition, [("ann-train", train)]))
        #expect(result.isValid, "\(result.failure?.reason ?? "")")
        #expect(result.linkage.modelsLinked == 1)
    }

    @Test(arguments: [
        (41, 12.5, "discrete_gaussian"),  // other steps
        (40, 12.0, "discrete_gaussian"),  // another evaluation σ
        (40, 12.5, "gaussian"),  // another evaluation mechanism
    ] as [(Int64, Double, String)])
    func aComposedSpendForAnotherRunIsNamed(steps: Int64, sigma: Double, evaluation: String) throws {
        var train = Self.train(steps: steps)
        train["evaluation_noise_sigma"] = .double(sigma)
        let spend: JSONValue = [
            "mechanism": "composition",
            "parts": [Self.mechanism, ["mechanism": .string(evaluation), "sigma": 12.5, "sensitivity": 1, "count": 1]],
        ]
        let failure = try #require(verify(try log(mechanism: spend, [("ann-train", train)])).failure)
        #expect(failure.reason.contains("that spend's mechanism is not the run's"), "\(failure.reason)")
    }

    @Test func anOlderTrainRecordWithoutTheLinkIsCountedNotFailed() throws {
        let result = verify(try log([("ann-train", Self.train(spend: nil)), ("x", Self.train(spend: nil, isPrivate: false))]))
        #expect(result.isValid)
        #expect(result.linkage.modelsUnlinked == 1)
        #expect(result.linkage.note.contains("1 written before Veil recorded the link"))
    }

    @Test(arguments: [
        ("ann-train", 8, 40, true, "no budget.spend record before it has that id"),
        ("bob", 7, 40, true, "model.train by bob names spend_id 7, which ann-train paid"),
        ("ann-train", 7, 41, true, "that spend's mechanism is not the run's"),
        ("ann-train", 7, 40, false, "a non-private run spends nothing"),
    ] as [(String, Int64, Int64, Bool, String)])
    func aBrokenLinkIsNamed(actor: String, spend: Int64, steps: Int64, isPrivate: Bool, reason: String) throws {
        let failure = try #require(verify(try log([(actor, Self.train(spend: .int(spend), steps: steps, isPrivate: isPrivate))])).failure)
        #expect(failure.seq == 2)
        #expect(failure.reason.contains(reason), "\(failure.reason)")
    }

    @Test func oneSpendPaysForOneModel() throws {
        let failure = try #require(verify(try log([("ann-train", Self.train()), ("ann-train", Self.train())])).failure)
        #expect(failure.seq == 3)
        #expect(failure.reason.contains("which the model.train record at seq 2 already names"))
    }

    /// The auditor's independent verifier (`scripts/verify_audit.py`) checks the same links: it accepts a
    /// linked run with private evaluation beside an older unlinked record, and names the broken links
    /// `AuditVerifier` names. (Its spend records carry the cumulative ε it replays: RDP, as composed here.)
    @Test func thePythonVerifierChecksTheSameLinks() throws {
        let probe = try? runPython(["-c", "import nacl.signing, dp_accounting"])
        try #require(probe?.status == 0, "python3 with PyNaCl and dp-accounting is needed: run scripts/install-deps.sh")
        let composed = PrivacyMechanism.composition(parts: [
            .subsampledGaussian(samplingRate: 0.1, noiseMultiplier: 1.25, steps: 40), .discreteGaussian(sigma: 12.5, sensitivity: 1, count: 1),
        ])
        let epsilon = RDPAccountant.epsilon(composing: [composed], delta: 1e-6).epsilon
        var train = Self.train()
        train["evaluation_noise_sigma"] = 12.5
        let cases: [(trains: [(String, [String: JSONValue])], expected: String)] = [
            ([("ann-train", train), ("ann-train", Self.train(spend: nil))], "1 private model(s) linked to the spend that paid for them; 1 written before"),
            ([("bob", train)], "FAILED: line 2 (seq 2): model.train by bob names spend_id 7, which ann-train paid"),
            ([("ann-train", train), ("ann-train", train)], "FAILED: line 3 (seq 3): model.train names spend_id 7, which the model.train record at seq 2 already names"),
        ]
        let directory = try ScratchDirectory()
        let publicKey = directory.file("audit.pub")
        try Data((Data(key.publicKey.bytes).base64EncodedString() + "\n").utf8).write(to: URL(fileURLWithPath: publicKey))
        var files: [String] = []
        for (index, (trains, expected)) in cases.enumerated() {
            let lines = try log(mechanism: Self.composition, cumulativeEpsilon: epsilon, trains)
            let failure = verify(lines).failure
            if expected.hasPrefix("FAILED") {
                #expect(failure.map { expected.hasSuffix($0.reason) } == true, "Swift: \(failure?.reason ?? "valid")")
            } else {
                #expect(failure == nil, "Swift: \(failure?.reason ?? "")")
            }
            files.append(directory.file("case\(index).log"))
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: files[index]))
        }
        // One interpreter runs the script's own entry point on each log (dp_accounting is imported once).
        let driver = """
            import runpy, sys
            verifier = runpy.run_path(sys.argv[1])
            for log in sys.argv[3:]:
                print("status", verifier["main"](["verify_audit.py", log, sys.argv[2]]))
            """
        let result = try runPython(["-c", driver, PyNaClCrossCheckTests.script, publicKey] + files)
        let lines = result.output.split(separator: "\n").map(String.init).filter {
            $0.hasPrefix("OK: ") || $0.hasPrefix("FAILED: ") || $0.hasPrefix("status ")
        }
        try #require(result.status == 0 && lines.count == 2 * cases.count, "\(result.output)")
        for (index, (_, expected)) in cases.enumerated() {
            #expect(lines[2 * index].hasPrefix(expected.hasPrefix("FAILED") ? expected : "OK: "), "\(lines[2 * index])")
            #expect(lines[2 * index].contains(expected), "\(lines[2 * index])")
            #expect(lines[2 * index + 1] == "status \(expected.hasPrefix("FAILED") ? 1 : 0)")
        }
    }
}
