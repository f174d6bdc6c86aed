import Foundation
import Synchronization
import Testing
import VeilCore
import VeilStore

/// The ledger's contract: check-and-spend is atomic with its `budget.spend` record, a throwing decision
/// spends nothing, concurrent spends — in one process or several — never pass a cap.
enum LedgerContract {
    /// A decision that spends `epsilon` unless the dataset's spends (summed) would pass `cap`.
    static func capped(_ epsilon: Double, cap: Double, principal: String = "analyst-1") -> @Sendable (LedgerSnapshot) throws -> LedgerEntry {
        { existing in
            let spent = existing.map(\.epsilon).reduce(0, +)
            guard spent + epsilon <= cap + 1e-12 else { throw CallerFailure(site: "refused") }
            let spend = Fixtures.spend(epsilon, principal: principal, cumulative: spent + epsilon)
            return LedgerEntry(spend: spend, audit: Fixtures.spendRecord(spend))
        }
    }

    static let cases: [StoreContractCase] = [
        StoreContractCase("ledger: a spend and its budget.spend record commit together, each naming the other") { deployment in
            let stores = try await deployment.open()
            _ = try await stores.audit.record(actor: "cli", action: .policyLoad, details: [:])
            let first = try await stores.ledger.reserve(dataset: "contract", capped(0.5, cap: 10))
            let second = try await stores.ledger.reserve(dataset: "contract", capped(0.25, cap: 10))
            #expect(first.id != nil && second.id != nil && first.id != second.id)
            #expect(first.auditSeq == 2 && second.auditSeq == 3)
            #expect(second.cumulativeEpsilon == 0.75)
            let chain = try await deployment.verifiedChain(stores)
            #expect(chain.map(\.action) == ["policy.load", "budget.spend", "budget.spend"])
            #expect(chain[1].details[AuditDraft.spendIDKey] == .int(first.id!))
            #expect(chain[2].details[AuditDraft.spendIDKey] == .int(second.id!))
            #expect(try await stores.ledger.spends(dataset: "contract") == [first, second])
            #expect(try await stores.ledger.spends(dataset: "other").isEmpty)
            #expect(try await stores.ledger.allSpends() == [first, second])
        },
        StoreContractCase("ledger: a throwing decision spends nothing, records nothing, and its error comes back as it was") { deployment in
            let stores = try await deployment.open()
            _ = try await stores.ledger.reserve(dataset: "contract", capped(1, cap: 1))
            await #expect(throws: CallerFailure(site: "refused")) {
                try await stores.ledger.reserve(dataset: "contract", capped(0.1, cap: 1))
            }
            #expect(try await stores.ledger.spends(dataset: "contract").count == 1)
            #expect(try await stores.audit.head().seq == 1)
        },
        StoreContractCase("ledger: the decision sees every earlier spend of its dataset, oldest first") { deployment in
            let stores = try await deployment.open()
            for epsilon in [0.1, 0.2, 0.3] { _ = try await stores.ledger.reserve(dataset: "contract", capped(epsilon, cap: 10)) }
            _ = try await stores.ledger.reserve(dataset: "elsewhere") { existing in
                #expect(existing.isEmpty)
                var spend = Fixtures.spend(5, cumulative: 5)
                spend.dataset = "elsewhere"
                return LedgerEntry(spend: spend, audit: Fixtures.spendRecord(spend))
            }
            let seen = Mutex<[Double]>([])
            _ = try await stores.ledger.reserve(dataset: "contract") { existing in
                seen.withLock { $0 = existing.map(\.epsilon) }
                let spend = Fixtures.spend(0.4, cumulative: 1.0)
                return LedgerEntry(spend: spend, audit: Fixtures.spendRecord(spend))
            }
            #expect(seen.withLock { $0 } == [0.1, 0.2, 0.3])
        },
        StoreContractCase("ledger: a reservation under a policy other than the recorded one is refused, naming both; nothing spent") {
            deployment in
            let loaded = { (hash: String) in AuditDraft(actor: "cli", action: .policyLoad, details: ["policy_hash": .string(hash)]) }
            let stores = try await deployment.open()
            try await stores.settings.set("hash-a", for: SettingKey.policyHash, audit: loaded("hash-a"))
            _ = try await stores.ledger.reserve(dataset: "contract", policyHash: "hash-a", capped(0.5, cap: 10))
            let stale = await #expect(throws: VeilError.self) {
                try await stores.ledger.reserve(dataset: "contract", policyHash: "hash-b") { _ in
                    Issue.record("the decision must not run under another policy")
                    throw CallerFailure(site: "decided")
                }
            }
            #expect(stale?.code == .conflict)
            #expect(stale.map { "\($0)".contains("hash-a") && "\($0)".contains("hash-b") } == true, "names both hashes")
            // Another process (replica) records a new policy: the first one's policy is now the stale one.
            let replica = try await deployment.open()
            try await replica.settings.set("hash-b", for: SettingKey.policyHash, audit: loaded("hash-b"))
            await #expect(throws: VeilError.self) {
                try await stores.ledger.reserve(dataset: "contract", policyHash: "hash-a", capped(0.5, cap: 10))
            }
            _ = try await replica.ledger.reserve(dataset: "contract", policyHash: "hash-b", capped(0.5, cap: 10))
            #expect(try await stores.ledger.spends(dataset: "contract").count == 2)
            #expect(try await deployment.verifiedChain(stores).map(\.action) == ["policy.load", "budget.spend", "policy.load", "budget.spend"])
        },
        StoreContractCase("ledger: 30 concurrent reservations in one process: each decision sees every spend before it, refusals among them spend nothing") {
            deployment in
            // A backend may group concurrent reservations into one transaction (PostgreSQL does): each
            // decision must still see the spends decided before it in the group, and a refusal in the
            // middle of a group must not take the others down or leave anything behind.
            let stores = try await deployment.open()
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        do {
                            _ = try await stores.ledger.reserve(dataset: "contract") { existing in
                                if index % 3 == 0 { throw CallerFailure(site: "refused") }
                                let spend = Fixtures.spend(0.01, principal: "p-\(index)", cumulative: Double(existing.count + 1))
                                return LedgerEntry(spend: spend, audit: Fixtures.spendRecord(spend))
                            }
                            return true
                        } catch let failure as CallerFailure where failure.site == "refused" {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 20)
            let spends = try await stores.ledger.spends(dataset: "contract")
            #expect(spends.map(\.cumulativeEpsilon) == (1...20).map(Double.init), "each decision saw every spend decided before it")
            let chain = try await deployment.verifiedChain(stores)
            #expect(chain.map(\.action) == Array(repeating: "budget.spend", count: 20))
            #expect(spends.compactMap(\.auditSeq) == chain.map(\.seq))
        },
        StoreContractCase("ledger: snapshots handed with one lineage are one growing list (two processes; refusals, failed transactions)") {
            deployment in
            // What `LedgerComposition` trusts instead of comparing spend by spend: a later snapshot of a
            // lineage starts with every spend of an earlier one. Groups, refusals in a group, another
            // process's commits in between, and transactions that fail after some of their decisions
            // ran (a record that cannot be sealed: its decisions' spends are never stored) must not
            // break it.
            let processes = [try await deployment.open(), try await deployment.open()]
            // Each spend by its id and principal (each reservation's own): SQLite may hand a rolled-back
            // spend's id to a later spend.
            let seen = Mutex<[(lineage: LedgerLineage, ids: [String])]>([])
            let decide: @Sendable (Int) -> @Sendable (LedgerSnapshot) throws -> LedgerEntry = { index in
                { existing in
                    seen.withLock { $0.append((existing.lineage, existing.map { "\($0.id ?? 0) \($0.principal)" })) }
                    if index == 36 { Thread.sleep(forTimeInterval: 0.3) }
                    if index % 5 == 0 { throw CallerFailure(site: "refused") }
                    let spend = Fixtures.spend(0.01, principal: "p-\(index)", cumulative: Double(existing.count + 1))
                    var audit = Fixtures.spendRecord(spend)
                    if index % 7 == 3 { audit.details["unsealable"] = .double(.nan) }
                    return LedgerEntry(spend: spend, audit: audit)
                }
            }
            let reserve: @Sendable (Int) async -> Bool = { index in
                (try? await processes[index % 2].ledger.reserve(dataset: "contract", decide(index))) != nil
            }
            let stored = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<24 { group.addTask { await reserve(index) } }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            var sequential = 0
            for index in 24..<32 where await reserve(index) { sequential += 1 }
            // A transaction that fails after one of its decisions was appended: 46, then 38 (unsealable),
            // both in process 0 (even), queue behind 36's group, held by a slow decision, so that they
            // form one group where a backend groups (else 38 fails alone). Then 42 and 44 see what was
            // stored.
            let held = await withTaskGroup(of: Bool.self) { group in
                group.addTask { await reserve(36) }
                try? await Task.sleep(for: .milliseconds(50))
                group.addTask { await reserve(46) }
                try? await Task.sleep(for: .milliseconds(20))
                group.addTask { await reserve(38) }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            for index in [42, 44] where await reserve(index) { sequential += 1 }
            let snapshots = seen.withLock { $0 }
            // A failed transaction's later reservations are not decided; the sequential ones each are.
            #expect(snapshots.count >= 8 && stored > 0)
            for lineage in Set(snapshots.map(\.lineage)) {
                let lists = snapshots.filter { $0.lineage == lineage }.map(\.ids).sorted { $0.count < $1.count }
                for (shorter, longer) in zip(lists, lists.dropFirst()) {
                    #expect(Array(longer.prefix(shorter.count)) == shorter, "a snapshot of one lineage does not start with an earlier one")
                }
            }
            // Indices 24..<32: 25 and 30 refused, 24 and 31 unsealable (each alone in its transaction); 42, 44 stored.
            #expect(sequential == 6)
            #expect(try await processes[0].ledger.spends(dataset: "contract").count == stored + sequential + held)
        },
        StoreContractCase("ledger: 40 concurrent spends from two processes never pass the cap") { deployment in
            let processes = [try await deployment.open(), try await deployment.open()]
            let cap = 2.0
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        do {
                            _ = try await processes[index % 2].ledger.reserve(
                                dataset: "contract", capped(0.15, cap: cap, principal: "p-\(index % 5)"))
                            return true
                        } catch let failure as CallerFailure where failure.site == "refused" {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 13, "0.15 × 13 = 1.95 ≤ 2 < 2.1: exactly 13 fit")
            let spends = try await processes[0].ledger.spends(dataset: "contract")
            #expect(spends.count == accepted)
            #expect(spends.map(\.epsilon).reduce(0, +) <= cap)
            #expect(spends.map(\.cumulativeEpsilon) == spends.map(\.cumulativeEpsilon).sorted())
            let chain = try await deployment.verifiedChain(processes[1])
            #expect(chain.count == accepted)
            #expect(Set(spends.compactMap(\.auditSeq)) == Set(chain.map(\.seq)))
        },
    ]
}

/// The audit chain's contract: seq and hash continuity under concurrent appends from several
/// processes, records tied to their changes in every other store, adoption of verified records.
enum ChainContract {
    static let cases: [StoreContractCase] = [
        StoreContractCase("chain: concurrent appends from two processes get distinct, gapless seqs and one valid chain") { deployment in
            let processes = [try await deployment.open(), try await deployment.open()]
            let seqs = try await withThrowingTaskGroup(of: [UInt64].self) { group in
                for task in 0..<8 {
                    group.addTask {
                        var seqs: [UInt64] = []
                        for index in 0..<10 {
                            seqs.append(
                                try await processes[task % 2].audit.record(
                                    actor: "worker-\(task)", action: .queryRun, details: ["i": .int(Int64(index))]))
                        }
                        return seqs
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(seqs.sorted() == Array(1...80))
            #expect(try await deployment.verifiedChain(processes[0]).count == 80)
            #expect(deployment.auditCommits >= 1, "the store tells its observer about commits that added records")
        },
        StoreContractCase("chain: records are read back exactly as sealed, in pages") { deployment in
            let stores = try await deployment.open()
            var sealed: [SealedAuditRecord] = []
            for index in 0..<25 { sealed.append(try await stores.audit.append(AuditDraft(actor: "cli", action: .modelScore, details: ["n": .int(Int64(index))]))) }
            #expect(try await stores.audit.records(after: 0, limit: 100) == sealed)
            #expect(try await stores.audit.records(after: 20, limit: 3) == Array(sealed[20..<23]))
            #expect(try await stores.audit.record(seq: 25) == sealed[24])
            #expect(try await stores.audit.record(seq: 26) == nil)
            #expect(try await stores.audit.head() == sealed[24].head)
            #expect(try await stores.audit.importPending() == false)
        },
        StoreContractCase("chain: a store opened without a sealer reads, but refuses to record") { deployment in
            let stores = try await deployment.open()
            _ = try await stores.audit.record(actor: "cli", action: .queryRun, details: [:])
            let auditor = try await deployment.openReadOnly()
            #expect(try await auditor.audit.head().seq == 1)
            let error = await #expect(throws: VeilError.self) { try await auditor.audit.record(actor: "cli", action: .queryRun, details: [:]) }
            #expect(error?.code == .forbidden)
            #expect(try await auditor.audit.head().seq == 1)
        },
        StoreContractCase("chain: adopting verified records continues the chain and links or restores their spends") { deployment in
            // Records sealed by another deployment with the same key (a verified audit.log).
            let source = try await deployment.open()
            let kept = try await source.ledger.reserve(dataset: "contract", LedgerContract.capped(0.5, cap: 10))
            let lost = try await source.ledger.reserve(dataset: "contract", LedgerContract.capped(0.25, cap: 10))
            let records = try await source.audit.records(after: 0, limit: 10)

            let target = try await deployment.another()
            let stores = try await target.open(StoreConfiguration(sealer: nil))
            // Records that do not continue the chain are refused, whole.
            let gap = await #expect(throws: VeilError.self) { try await stores.audit.adopt([records[1]], spends: [], completingImport: false) }
            #expect(gap?.code == .conflict)
            #expect(try await stores.audit.head() == .empty)
            try await stores.audit.adopt(
                records, spends: [AdoptedSpend(auditSeq: 1, spend: kept), AdoptedSpend(auditSeq: 2, spend: lost)], completingImport: false)
            #expect(try await stores.audit.head() == records[1].head)
            #expect(try await stores.ledger.allSpends() == [kept, lost])
            // Adopting the same spend again links nothing new; one tied to another record is a conflict.
            let taken = await #expect(throws: VeilError.self) {
                try await stores.audit.adopt([], spends: [AdoptedSpend(auditSeq: 1, spend: lost)], completingImport: false)
            }
            #expect(taken?.code == .conflict)
            await target.remove()
        },
    ]
}
