import Foundation

/// A line or step chart as standalone SVG: axes with ticks and labels, a title, series drawn as
/// polylines with optional markers, and reference lines (a diagonal, a cap). Every text — title, axis
/// labels, series names, marker titles — is escaped (`Markup.escape`); the drawing uses presentation
/// attributes only (no `style`, no script), so it renders the same inline in a report, as an `<img>`,
/// and under a Content-Security-Policy without `unsafe-inline`.
///
/// Coordinates: the plot area is `width × height` minus the margins; values outside an axis's domain
/// are clamped to its edge.
public struct Chart {
    /// One axis: its label, its value range and how a tick value reads.
    public struct Axis {
        public var label: String
        public var domain: ClosedRange<Double>
        public var tickLabel: (Double) -> String

        public init(label: String, domain: ClosedRange<Double>, tickLabel: @escaping (Double) -> String = { Markup.number($0, digits: 3) }) {
            self.label = label
            self.domain = domain.lowerBound < domain.upperBound ? domain : domain.lowerBound...(domain.lowerBound + 1)
            self.tickLabel = tickLabel
        }
    }

    /// How a series joins its points: straight lines, or a step that holds y until the next x.
    public enum Shape {
        case line
        case step
    }

    /// One series: points in data coordinates, drawn in `color`; with `markers`, each point is a dot whose
    /// `<title>` (the tooltip) is the matching text.
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var shape: Shape
        public var color: String
        public var markers: [String]?
        public var dashed: Bool

        public init(
            name: String, points: [(x: Double, y: Double)], shape: Shape = .line, color: String, markers: [String]? = nil,
            dashed: Bool = false
        ) {
            precondition(markers == nil || markers?.count == points.count, "one marker title per point")
            self.name = name
            self.points = points
            self.shape = shape
            self.color = color
            self.markers = markers
            self.dashed = dashed
        }
    }

    public var title: String
    public var x: Axis
    public var y: Axis
    public var series: [Series]
    public var width = 480.0
    public var height = 340.0

    public init(title: String, x: Axis, y: Axis, series: [Series]) {
        self.title = title
        self.x = x
        self.y = y
        self.series = series
    }

    private let margin = (left: 62.0, right: 16.0, top: 34.0, bottom: 78.0)

    /// The chart as one `<svg>` element (no XML declaration), with `role="img"` and a `<title>`.
    public func svg() -> String {
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="\(Markup.coordinate(width))" \
            height="\(Markup.coordinate(height))" viewBox="0 0 \(Markup.coordinate(width)) \(Markup.coordinate(height))" \
            font-family="sans-serif" font-size="11">
            <title>\(Markup.escape(title))</title>
            <rect x="0" y="0" width="\(Markup.coordinate(width))" height="\(Markup.coordinate(height))" fill="#ffffff"/>
            <text x="\(Markup.coordinate(width / 2))" y="20" text-anchor="middle" font-size="14" font-weight="bold">\(Markup.escape(title))</text>

            """
        out += axes()
        for series in series { out += draw(series) }
        out += legend()
        out += "</svg>"
        return out
    }

    private var plotLeft: Double { margin.left }
    private var plotRight: Double { width - margin.right }
    private var plotTop: Double { margin.top }
    private var plotBottom: Double { height - margin.bottom }

    private func px(_ value: Double) -> Double {
        let t = (min(max(value, x.domain.lowerBound), x.domain.upperBound) - x.domain.lowerBound) / (x.domain.upperBound - x.domain.lowerBound)
        return plotLeft + t * (plotRight - plotLeft)
    }

    private func py(_ value: Double) -> Double {
        let t = (min(max(value, y.domain.lowerBound), y.domain.upperBound) - y.domain.lowerBound) / (y.domain.upperBound - y.domain.lowerBound)
        return plotBottom - t * (plotBottom - plotTop)
    }

    private func axes() -> String {
        let c = Markup.coordinate
        var out = """
            <g class="axes" stroke="#444444" stroke-width="1">
            <line x1="\(c(plotLeft))" y1="\(c(plotBottom))" x2="\(c(plotRight))" y2="\(c(plotBottom))"/>
            <line x1="\(c(plotLeft))" y1="\(c(plotTop))" x2="\(c(plotLeft))" y2="\(c(plotBottom))"/>
            </g>

            """
        for value in Self.ticks(x.domain) {
            out += """
                <line x1="\(c(px(value)))" y1="\(c(plotBottom))" x2="\(c(px(value)))" y2="\(c(plotBottom + 4))" stroke="#444444"/>\
                <text x="\(c(px(value)))" y="\(c(plotBottom + 16))" text-anchor="middle">\(Markup.escape(x.tickLabel(value)))</text>

                """
        }
        for value in Self.ticks(y.domain) {
            out += """
                <line x1="\(c(plotLeft))" y1="\(c(py(value)))" x2="\(c(plotRight))" y2="\(c(py(value)))" stroke="#e4e4e4"/>\
                <text x="\(c(plotLeft - 6))" y="\(c(py(value) + 4))" text-anchor="end">\(Markup.escape(y.tickLabel(value)))</text>

                """
        }
        out += """
            <text class="x-label" x="\(c((plotLeft + plotRight) / 2))" y="\(c(plotBottom + 34))" text-anchor="middle">\(Markup.escape(x.label))</text>
            <text class="y-label" x="14" y="\(c((plotTop + plotBottom) / 2))" text-anchor="middle" \
            transform="rotate(-90 14 \(c((plotTop + plotBottom) / 2)))">\(Markup.escape(y.label))</text>

            """
        return out
    }

    private func draw(_ series: Series) -> String {
        guard !series.points.isEmpty else { return "" }
        let c = Markup.coordinate
        var path: [String] = []
        for (index, point) in series.points.enumerated() {
            if series.shape == .step, index > 0 {
                path.append("\(c(px(point.x))),\(c(py(series.points[index - 1].y)))")
            }
            path.append("\(c(px(point.x))),\(c(py(point.y)))")
        }
        let dash = series.dashed ? " stroke-dasharray=\"5 4\"" : ""
        var out = """
            <g class="series" data-series="\(Markup.escape(series.name))">
            <polyline fill="none" stroke="\(Markup.escape(series.color))" stroke-width="2"\(dash) points="\(path.joined(separator: " "))"/>

            """
        if let markers = series.markers {
            for (point, text) in zip(series.points, markers) {
                out += """
                    <circle cx="\(c(px(point.x)))" cy="\(c(py(point.y)))" r="4" fill="\(Markup.escape(series.color))"><title>\(Markup.escape(text))</title></circle>

                    """
            }
        }
        return out + "</g>\n"
    }

    private func legend() -> String {
        let c = Markup.coordinate
        var out = ""
        var left = plotLeft
        let top = height - 22
        for series in series {
            let dash = series.dashed ? " stroke-dasharray=\"5 4\"" : ""
            out += """
                <line x1="\(c(left))" y1="\(c(top))" x2="\(c(left + 18))" y2="\(c(top))" stroke="\(Markup.escape(series.color))" stroke-width="2"\(dash)/>\
                <text x="\(c(left + 22))" y="\(c(top + 4))">\(Markup.escape(series.name))</text>

                """
            left += 30 + Double(series.name.count) * 6.2
        }
        return out
    }

    /// About five round tick values inside `domain`: multiples of a step of 1, 2 or 5 × 10ᵏ, computed as
    /// integer / 10⁻ᵏ so 0.6 reads 0.6 and not 0.6000000000000001.
    static func ticks(_ domain: ClosedRange<Double>) -> [Double] {
        let span = domain.upperBound - domain.lowerBound
        guard span > 0, span.isFinite else { return [domain.lowerBound] }
        let raw = span / 5
        let exponent = Int(log10(raw).rounded(.down))
        let scale = pow(10, Double(abs(exponent)))
        let value: (Double) -> Double = { exponent < 0 ? $0 / scale : $0 * scale }
        let multiple = [1.0, 2, 5, 10].first { value($0) >= raw } ?? 10
        var ticks: [Double] = []
        var k = (domain.lowerBound / value(multiple)).rounded(.up)
        while value(k * multiple) <= domain.upperBound + value(multiple) * 1e-9 {
            ticks.append(value(k * multiple))
            k += 1
        }
        return ticks
    }
}
