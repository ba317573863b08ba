using System.Globalization;
using System.Text.RegularExpressions;
using Interconnect.Testing;

namespace Interconnect.Examples.Tests;

/// <summary>mc_ex5 (manual Example 10-5): of racing processes on two hosts, exactly one initialises the region.</summary>
public sealed partial class Example5Tests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    public void ShouldInitialiseOnceAndCountEveryOtherProcessOnceWhenProcessesRace()
    {
        var hosts = new[] { "alpha", "beta", "alpha", "beta", "alpha", "beta" };
        var processes = hosts
            .Select(h => ProgramProcess.Start("mc_ex5", _cluster.Root, TemporaryCluster.ClusterName, h, "--coherent"))
            .ToList();
        try
        {
            var results = processes.Select(p => p.WaitForLine("lock set 456")).ToList();
            var all = string.Join('\n', processes.Select(p => p.Transcript));

            Assert.That(results.Count(r => r.Contains("created lock set 456", StringComparison.Ordinal)), Is.EqualTo(1), all);
            var counts = results.Select(r => SecondaryCount().Match(r)).Where(m => m.Success)
                .Select(m => (Before: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
                    After: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
                .ToList();
            Assert.That(counts.Select(c => c.After).Order(), Is.EqualTo(Enumerable.Range(1, hosts.Length - 1)), all);
            Assert.That(counts.All(c => c.After == c.Before + 1), Is.True, all);
            Assert.That(results.Where(r => r.Contains("exists", StringComparison.Ordinal)),
                Has.All.Contains("the initialised pattern is there"), all);

            foreach (var process in processes)
            {
                process.WaitForLine("press Enter");
                process.WriteLine("");
            }

            foreach (var process in processes)
            {
                Assert.That(process.WaitForExit(), Is.Zero, process.Transcript);
                Assert.That(process.Lines, Has.Some.Contains("released the lock set and the region"), process.Transcript);
            }
        }
        finally
        {
            processes.ForEach(p => p.Dispose());
        }
    }

    [Test]
    public void ShouldInitialiseAgainOnceTheLastProcessHasLeft()
    {
        foreach (var host in new[] { "alpha", "beta" })
        {
            using var process = ProgramProcess.Start("mc_ex5", _cluster.Root, TemporaryCluster.ClusterName, host, "--hold", "0");

            Assert.That(process.WaitForExit(), Is.Zero, process.Transcript);
            Assert.That(process.Lines, Has.Some.Contains("created lock set 456"), process.Transcript);
        }
    }

    [GeneratedRegex(@"process count (\d+) -> (\d+);")]
    private static partial Regex SecondaryCount();
}
