import Foundation
import Testing
import VeilCore
import VeilStore

/// The contracts of the smaller stores: models and artifacts, tokens, settings, the key set — each
/// change committed with its audit record — and the error mapping every backend shares.
enum RegistryContract {
    static func model(_ id: String, task: String = "purchase", at millis: Int64 = 1_000) -> ModelRecord {
        ModelRecord(id: id, task: task, isPrivate: true, epsilon: 2, createdMillis: millis)
    }

    static func trained(_ id: String) -> AuditDraft {
        AuditDraft(actor: "trainer-1", action: .modelTrain, details: ["model_id": .string(id)])
    }

    static func reviewed(_ record: ModelRecord) -> AuditDraft {
        AuditDraft(
            actor: record.reviewer ?? "", action: record.state == .approved ? .modelApprove : .modelReject,
            details: ["model_id": .string(record.id)])
    }

    static let cases: [StoreContractCase] = [
        StoreContractCase("models: registration and review each commit with their record; only candidates are reviewed") { deployment in
            let stores = try await deployment.open()
            let first = try await stores.models.register(model("aa01", at: 1_000), audit: trained("aa01"))
            #expect(first == model("aa01", at: 1_000))
            // The same artifact again: the same model, recorded again.
            #expect(try await stores.models.register(model("aa01", at: 9_000), audit: trained("aa01")) == first)
            _ = try await stores.models.register(model("bb02", at: 2_000), audit: trained("bb02"))
            _ = try await stores.models.register(model("cc03", task: "churn", at: 3_000), audit: trained("cc03"))
            #expect(try await stores.models.all().map(\.id) == ["cc03", "bb02", "aa01"])

            let approved = try await stores.models.review(
                id: "aa01", to: .approved, reviewer: "reviewer-1", note: "ok", qualityOverride: nil, atMillis: 5_000, audit: reviewed)
            #expect(approved.state == .approved && approved.reviewer == "reviewer-1" && approved.reviewedMillis == 5_000)
            _ = try await stores.models.review(
                id: "bb02", to: .approved, reviewer: "reviewer-1", note: "newer", qualityOverride: "pilot only", atMillis: 6_000, audit: reviewed)
            #expect(try await stores.models.serving(task: "purchase")?.id == "bb02")
            #expect(try await deployment.open().models.find(id: "bb02")?.qualityOverride == "pilot only")
            #expect(try await stores.models.find(id: "aa01")?.qualityOverride == nil)
            #expect(try await stores.models.serving(task: "churn") == nil)

            let again = await #expect(throws: VeilError.self) {
                try await stores.models.review(id: "aa01", to: .rejected, reviewer: "r", note: "x", qualityOverride: nil, atMillis: 7_000, audit: reviewed)
            }
            #expect(again?.code == .invalidInput)
            let missing = await #expect(throws: VeilError.self) {
                try await stores.models.review(id: "dd04", to: .approved, reviewer: "r", note: "x", qualityOverride: nil, atMillis: 7_000, audit: reviewed)
            }
            #expect(missing?.code == .notFound)
            #expect(try await stores.models.find(id: "aa01")?.state == .approved)
            #expect(try await stores.models.find(id: "dd04") == nil)
            let chain = try await deployment.verifiedChain(stores)
            #expect(chain.map(\.action) == ["model.train", "model.train", "model.train", "model.train", "model.approve", "model.approve"])
        },
        StoreContractCase("models: a revocation commits with its record; only an approved model is revoked; it stops serving") { deployment in
            let stores = try await deployment.open()
            _ = try await stores.models.register(model("aa01", at: 1_000), audit: trained("aa01"))
            _ = try await stores.models.register(model("bb02", at: 2_000), audit: trained("bb02"))
            let revoke = { (id: String, at: Int64) in
                try await stores.models.revoke(id: id, by: "reviewer-2", note: "drifted", atMillis: at) { record in
                    AuditDraft(actor: record.revokedBy ?? "", action: .modelRevoke, details: ["model_id": .string(record.id)])
                }
            }
            let candidate = await #expect(throws: VeilError.self) { try await revoke("aa01", 3_000) }
            #expect(candidate?.code == .invalidInput)
            let missing = await #expect(throws: VeilError.self) { try await revoke("dd04", 3_000) }
            #expect(missing?.code == .notFound)

            _ = try await stores.models.review(id: "aa01", to: .approved, reviewer: "reviewer-1", note: "ok", qualityOverride: nil, atMillis: 4_000, audit: reviewed)
            _ = try await stores.models.review(id: "bb02", to: .approved, reviewer: "reviewer-1", note: "newer", qualityOverride: nil, atMillis: 5_000, audit: reviewed)
            #expect(try await stores.models.serving(task: "purchase")?.id == "bb02")
            let revoked = try await revoke("bb02", 6_000)
            #expect(revoked.state == .revoked && revoked.revokedBy == "reviewer-2" && revoked.revokeNote == "drifted")
            #expect(revoked.revokedMillis == 6_000 && revoked.reviewer == "reviewer-1" && revoked.reviewNote == "newer")
            // Read back by another open (another replica): the revocation is stored, the older approval serves.
            let other = try await deployment.open()
            #expect(try await other.models.find(id: "bb02") == revoked)
            #expect(try await other.models.serving(task: "purchase")?.id == "aa01")
            let again = await #expect(throws: VeilError.self) { try await revoke("bb02", 7_000) }
            #expect(again?.code == .invalidInput)
            _ = try await revoke("aa01", 8_000)
            #expect(try await other.models.serving(task: "purchase") == nil)
            let chain = try await deployment.verifiedChain(stores)
            #expect(chain.map(\.action) == ["model.train", "model.train", "model.approve", "model.approve", "model.revoke", "model.revoke"])
        },
        StoreContractCase("artifacts: stored bytes come back as they were; storing an id again changes nothing") { deployment in
            let stores = try await deployment.open()
            let bytes = Data((0..<5_000).map { UInt8($0 % 251) })
            try await stores.artifacts.put(bytes, id: "0123abcd")
            try await stores.artifacts.put(Data([1, 2, 3]), id: "0123abcd")
            #expect(try await stores.artifacts.artifact(id: "0123abcd") == bytes)
            #expect(try await stores.artifacts.artifact(id: "ffff0000") == nil)
            let other = try await deployment.open()
            #expect(try await other.artifacts.artifact(id: "0123abcd") == bytes)
        },
        StoreContractCase("tokens: issue and revoke commit with their records; a used name or hash is refused, recording nothing") { deployment in
            let stores = try await deployment.open()
            let created = Date(timeIntervalSince1970: 1_795_435_200)
            let issue = { (name: String, hash: UInt8) in
                try await stores.tokens.insert(
                    TokenRecord(name: name, role: .ingest, hash: [UInt8](repeating: hash, count: 32), created: created),
                    audit: AuditDraft(actor: "cli", action: .tokenIssue, details: ["name": .string(name)]))
            }
            try await issue("storefront", 1)
            let name = await #expect(throws: VeilError.self) { try await issue("storefront", 2) }
            #expect(name?.code == .alreadyExists)
            let hash = await #expect(throws: VeilError.self) { try await issue("other", 1) }
            #expect(hash?.code == .conflict, "a constraint the store enforces maps to .conflict")
            #expect(try await stores.tokens.token(hash: [UInt8](repeating: 1, count: 32))?.name == "storefront")
            #expect(try await stores.tokens.token(hash: [UInt8](repeating: 9, count: 32)) == nil)
            let revoke = { (name: String) in
                try await stores.tokens.revoke(
                    name: name, at: created.addingTimeInterval(60), audit: AuditDraft(actor: "cli", action: .tokenRevoke, details: ["name": .string(name)]))
            }
            #expect(try await revoke("storefront"))
            #expect(try await revoke("storefront") == false)
            #expect(try await revoke("nobody") == false)
            #expect(try await stores.tokens.all().map(\.revoked) == [created.addingTimeInterval(60)])
            #expect(try await deployment.verifiedChain(stores).map(\.action) == ["token.issue", "token.revoke"])
        },
        StoreContractCase("settings: a value and its record commit together") { deployment in
            let stores = try await deployment.open()
            #expect(try await stores.settings.value(for: SettingKey.policyHash) == nil)
            try await stores.settings.set(
                "abc", for: SettingKey.policyHash, audit: AuditDraft(actor: "cli", action: .policyLoad, details: ["policy_hash": "abc"]))
            try await stores.settings.set("def", for: SettingKey.policyHash, audit: nil)
            #expect(try await stores.settings.value(for: SettingKey.policyHash) == "def")
            #expect(try await deployment.verifiedChain(stores).map(\.action) == ["policy.load"])
        },
        StoreContractCase("key set: bound once, with its record; the same set again changes nothing; another is a conflict") { deployment in
            let stores = try await deployment.open()
            let mine = KeySetFingerprint(master: [UInt8](repeating: 1, count: 32), auditPublicKey: deployment.signingKey.publicKey.bytes)
            let theirs = KeySetFingerprint(master: [UInt8](repeating: 2, count: 32), auditPublicKey: mine.auditPublicKey)
            #expect(try await stores.keySet.keySet() == nil)
            let record = AuditDraft(actor: "cli", action: .keyBind, details: [:])
            try await stores.keySet.bind(mine, audit: record)
            try await stores.keySet.bind(mine, audit: record)
            let error = await #expect(throws: VeilError.self) { try await stores.keySet.bind(theirs, audit: record) }
            #expect(error?.code == .conflict)
            #expect(try await deployment.open().keySet.keySet() == mine)
            #expect(try await deployment.verifiedChain(stores).map(\.action) == ["key.bind"])
        },
    ]
}

/// Every case of the store contract, in the order they are reported.
public enum StoreContract {
    public static let cases: [StoreContractCase] =
        EventContract.cases + GroupCountContract.cases + LedgerContract.cases + ChainContract.cases + RegistryContract.cases
}
