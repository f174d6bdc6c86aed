import Hummingbird

/// 405 with `Allow` for a request whose path the router serves, but not with its method.
///
/// Hummingbird answers any unmatched request 404; this middleware, added after every route, wraps
/// that answer: it matches the path against the route templates (`/v1/models/{id}`: a `{…}` segment
/// matches any one segment) and, if some template matches, answers 405 listing their methods.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Path template → the methods it is served with, sorted.
    private let templates: [(segments: [Substring], methods: [String])]

    init(routes: [(path: String, method: String)]) {
        var methods: [String: Set<String>] = [:]
        for route in routes { methods[route.path, default: []].insert(route.method) }
        templates = methods.map { ($0.key.split(separator: "/"), $0.value.sorted()) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError where error.status == .notFound {
            let allowed = allowedMethods(request.uri.path)
            guard !allowed.isEmpty else { throw error }
            throw APIError.methodNotAllowed(allow: allowed)
        }
    }

    /// The methods of every template `path` matches (none when no template does).
    func allowedMethods(_ path: String) -> [String] {
        let segments = path.split(separator: "/")
        var methods = Set<String>()
        for template in templates where template.segments.count == segments.count {
            let matches = zip(template.segments, segments).allSatisfy { pattern, segment in
                (pattern.hasPrefix("{") && pattern.hasSuffix("}")) || pattern == segment
            }
            if matches { methods.formUnion(template.methods) }
        }
        return methods.sorted()
    }
}
