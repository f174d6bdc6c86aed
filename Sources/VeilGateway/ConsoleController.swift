import Hummingbird

/// The web console's files under `/console`: `GET /console` (the page), `/console/console.js`,
/// `/console/console.css` and `/console/favicon.svg`, embedded in the binary (`ConsoleAssets`, generated from `console/`). They hold
/// no data and need no token; the page signs in with a bearer token it keeps in `sessionStorage` and
/// sends as an `Authorization` header to the API — never in a cookie or a URL.
///
/// Every answer carries `ConsoleController.securityHeaders`: a Content-Security-Policy without
/// `unsafe-inline` (scripts and styles only from these files; images only from the same origin or
/// `blob:` URLs the script makes from SVG it fetched), no framing, no referrer, no sniffing, no caching.
struct ConsoleController {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: contentSecurityPolicy,
        .xContentTypeOptions: "nosniff",
        .init("Referrer-Policy")!: "no-referrer",
        .init("X-Frame-Options")!: "DENY",
        .cacheControl: "no-store",
    ]

    func addRoutes(to router: Router<VeilRequestContext>) {
        router.get("console") { _, _ in Self.file(ConsoleAssets.indexHTML, type: "text/html; charset=utf-8") }
        router.get("console/console.js") { _, _ in Self.file(ConsoleAssets.consoleJS, type: "text/javascript; charset=utf-8") }
        router.get("console/console.css") { _, _ in Self.file(ConsoleAssets.consoleCSS, type: "text/css; charset=utf-8") }
        router.get("console/favicon.svg") { _, _ in Self.file(ConsoleAssets.faviconSVG, type: "image/svg+xml") }
    }

    static func file(_ text: String, type: String) -> Response {
        var headers = securityHeaders
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
