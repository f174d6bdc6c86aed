/// One example's gradient over one layer's parameters (in the layer's parameter layout), formed in the
/// layer's memory by a layer whose weights the example uses at several rows: the layer takes its norm
/// and then adds it, weighted, to the chunk's sum without forming it again.
final class ExampleGradient<Scalar: ComputeScalar> {
    let values: UnsafeMutablePointer<Scalar>
    let count: Int
    /// The example of the chunk whose gradient `values` holds, or -1 (none, or stale after a pass).
    var example = -1

    init(count: Int) {
        self.count = count
        values = .allocate(capacity: count)
    }

    deinit { values.deallocate() }

    /// Zeroes the values for example `example`, which the layer then accumulates.
    func start(example: Int) -> UnsafeMutablePointer<Scalar> {
        values.update(repeating: 0, count: count)
        self.example = example
        return values
    }

    /// ‖values‖², summed in `Double` (`DenseKernels.squaredNorm`).
    var squaredNorm: Double { DenseKernels.squaredNorm(values, count) }

    /// `target[k] += weight · values[k]` for every k.
    func add(weight: Scalar, into target: UnsafeMutablePointer<Scalar>) {
        for k in 0..<count { target[k] += weight * values[k] }
    }
}
