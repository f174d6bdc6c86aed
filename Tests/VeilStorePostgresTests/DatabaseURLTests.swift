import Foundation
import Testing
import VeilCore
import VeilStore

@Suite struct DatabaseURLTests {
    @Test func nothingOrSqliteIsTheFileInTheDataDirectory() throws {
        #expect(try DatabaseURL(parsing: nil) == .sqlite)
        #expect(try DatabaseURL(parsing: "") == .sqlite)
        #expect(try DatabaseURL(parsing: "sqlite:") == .sqlite)
        #expect(try DatabaseURL(parsing: "sqlite://") == .sqlite)
    }

    @Test func tcpURLWithEveryPart() throws {
        let url = try DatabaseURL(parsing: "postgresql://veil:s3cr%40t@db.internal:6432/analytics?sslmode=require&connect_timeout=3")
        guard case .postgres(let location) = url else {
            Issue.record("expected PostgreSQL")
            return
        }
        #expect(location.endpoint == .tcp(host: "db.internal", port: 6432))
        #expect(location.user == "veil")
        #expect(location.password == "s3cr@t")
        #expect(location.database == "analytics")
        #expect(location.tls == .require)
        #expect(location.connectTimeout == .seconds(3))
        #expect(location.server == "db.internal:6432")
    }

    @Test func postgresSchemeDefaultsPortTLSAndDatabase() throws {
        guard case .postgres(let location) = try DatabaseURL(parsing: "postgres://ana@10.0.0.5") else {
            Issue.record("expected PostgreSQL")
            return
        }
        #expect(location.endpoint == .tcp(host: "10.0.0.5", port: 5432))
        #expect(location.database == "ana")
        #expect(location.tls == .prefer)
        #expect(location.connectTimeout == .seconds(10))
        #expect(location.password == nil)
    }

    @Test func bracketedIPv6Host() throws {
        guard case .postgres(let location) = try DatabaseURL(parsing: "postgresql://u@[::1]:5433/d") else {
            Issue.record("expected PostgreSQL")
            return
        }
        #expect(location.endpoint == .tcp(host: "::1", port: 5433))
        #expect(location.server == "[::1]:5433")
    }

    @Test func unixSocketForms() throws {
        let forms = [
            "postgresql:///veil?host=/tmp/pg&port=5440",
            "postgresql://u@%2Ftmp%2Fpg:5440/veil",
            "postgresql://u@/veil?host=%2Ftmp%2Fpg&port=5440",
        ]
        for form in forms {
            guard case .postgres(let location) = try DatabaseURL(parsing: form) else {
                Issue.record("expected PostgreSQL for \(form)")
                continue
            }
            #expect(location.endpoint == .unixSocket(path: "/tmp/pg/.s.PGSQL.5440"), "\(form)")
            #expect(location.database == "veil")
            #expect(location.tls == .disable)
        }
        guard case .postgres(let defaultSocket) = try DatabaseURL(parsing: "postgresql://u@/veil") else { return }
        #expect(defaultSocket.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432"))
    }

    @Test func thePasswordIsNeverPrinted() throws {
        let url = try DatabaseURL(parsing: "postgresql://veil:hunter2-secret@db:5432/veil")
        #expect(!url.description.contains("hunter2"))
        #expect(url.description == "postgresql://veil@db:5432/veil")
    }

    @Test(arguments: [
        ("mysql://u:pw@h/d", "scheme 'mysql'"),
        ("postgresql://u:pw@h:99999/d", "port"),
        ("postgresql://u:pw@h:abc/d", "port"),
        ("postgresql://u:pw@h/d?sslmode=bogus", "sslmode"),
        ("postgresql://u:pw@h/d?connect_timeout=0", "connect_timeout"),
        ("postgresql://u:pw@h/d?application_name=x", "'application_name'"),
        ("postgresql://u:pw@h/d/e", "database name"),
        ("postgresql://u:pw@[::1/d", "IPv6"),
        ("sqlite:/var/veil.sqlite", "sqlite:"),
        ("db.internal:5432", "scheme"),
    ])
    func badURLsAreRefusedNamingTheRuleWithoutThePassword(text: String, rule: String) {
        do {
            _ = try DatabaseURL(parsing: text)
            Issue.record("accepted \(text)")
        } catch let error as VeilError {
            #expect(error.code == .invalidInput)
            #expect(error.field == "database_url")
            #expect(error.message.contains(rule), "\(error.message)")
            #expect(!error.message.contains("pw"), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func anUnknownParameterHoldingASecretIsNotEchoed() {
        #expect {
            _ = try DatabaseURL(parsing: "postgresql://u@h/d?password-is-hunter2=1")
        } throws: { error in
            guard let error = error as? VeilError else { return false }
            return error.message.contains("(not shown)") && !error.message.contains("hunter2")
        }
    }
}
