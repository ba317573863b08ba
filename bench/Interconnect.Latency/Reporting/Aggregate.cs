namespace Interconnect.Latency.Reporting;

/// <summary>
/// One measurement over every round: the median of the rounds' figures (each figure separately) and the spread of
/// the rounds' p50 and p99 (lowest and highest).
/// </summary>
internal sealed class Aggregate
{
    public Aggregate(string group, string transport, int parameter, string metric, IReadOnlyList<Measurement> rounds)
    {
        Group = group;
        Transport = transport;
        Parameter = parameter;
        Metric = metric;
        Rounds = rounds;
        var stats = rounds.Select(Stats.Of).ToList();
        RoundStats = stats;
        Median = new Stats(
            MedianOf(stats.Select(s => s.P50)),
            MedianOf(stats.Select(s => s.P99)),
            MedianOf(stats.Select(s => s.P999)),
            MedianOf(stats.Select(s => s.Max)),
            (long)MedianOf(stats.Select(s => (double)s.Count)));
        P50Range = (stats.Min(s => s.P50), stats.Max(s => s.P50));
        P99Range = (stats.Min(s => s.P99), stats.Max(s => s.P99));
    }

    public string Group { get; }

    public string Transport { get; }

    public int Parameter { get; }

    public string Metric { get; }

    public IReadOnlyList<Measurement> Rounds { get; }

    public IReadOnlyList<Stats> RoundStats { get; }

    public Stats Median { get; }

    public (double Low, double High) P50Range { get; }

    public (double Low, double High) P99Range { get; }

    public static IReadOnlyList<Aggregate> Of(IEnumerable<ScenarioRun> runs) =>
        runs.SelectMany(r => r.Measurements)
            .GroupBy(m => (m.Group, m.Transport, m.Parameter, m.Metric))
            .Select(g => new Aggregate(g.Key.Group, g.Key.Transport, g.Key.Parameter, g.Key.Metric, g.ToList()))
            .ToList();

    private static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
