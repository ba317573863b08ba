using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace Interconnect.Benchmarks.Tests;

/// <summary>
/// DESIGN.md: zero bytes allocated per write and read (and, with issue 3, per lock acquire and release). Every
/// benchmark of the suite in category DataPath is set up as BenchmarkDotNet would, then called many times between
/// two readings of this thread's allocation counter; BenchmarkDotNet itself is not run here. A time is never asserted.
/// </summary>
public sealed class DataPathAllocationTests
{
    private const int WarmupCalls = 2_000;
    private const int MeasuredCalls = 20_000;

    private static IEnumerable<TestCaseData> DataPathCases() =>
        BenchmarkCase.All().Where(c => c.IsDataPath).Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(DataPathCases))]
    public void ShouldNotAllocateInADataPathBenchmark(BenchmarkCase benchmark)
    {
        var allocated = Measure(benchmark);

        Assert.That(allocated, Is.Zero, $"{benchmark.Name} allocated {allocated} bytes over {MeasuredCalls} calls");
    }

    [Test]
    public void ShouldFindEveryDataPathBenchmarkOfTheSuite()
    {
        var names = BenchmarkCase.All().Where(c => c.IsDataPath).Select(c => c.Name).ToList();

        Assert.That(names, Does.Contain("WriteBenchmarks.Write(Receivers=4, Size=4096)"));
        Assert.That(names, Does.Contain("WriteBenchmarks.Write(Receivers=1, Size=8)"));
        Assert.That(names, Does.Contain("WriteValueBenchmarks.WriteUInt64(Receivers=2)"));
        Assert.That(names, Does.Contain("ReadBenchmarks.ReadUInt64"));
        Assert.That(names, Does.Contain("ReadBenchmarks.Read4K"));
        Assert.That(names, Does.Contain("LockBenchmarks.AcquireRelease"));
        Assert.That(names, Does.Contain("LockBenchmarks.TryAcquireRelease"));
        Assert.That(names, Does.Contain("ErrorCountBenchmarks.ReadErrorCount(Tallies=0)"));
        Assert.That(names, Does.Contain("ErrorCountBenchmarks.CheckErrorCount(Tallies=2)"), "with users' loss tallies, as under imcd");
        Assert.That(names, Has.Count.EqualTo((3 * 3) + 3 + 3 + 2 + (2 * 2)));
    }

    [Test]
    public void ShouldSeeTheAllocationsOfAControlPathBenchmark()
    {
        // The measurement must be able to fail: attaching and detaching allocates, and it must show.
        var attach = BenchmarkCase.All().Single(c => c.Name == "AttachBenchmarks.AttachReceiveDetach");

        Assert.That(attach.IsDataPath, Is.False);
        Assert.That(Measure(attach, calls: 50), Is.GreaterThan(0));
    }

    private static long Measure(BenchmarkCase benchmark, int calls = MeasuredCalls)
    {
        using var instance = (ClusterBenchmark)Activator.CreateInstance(benchmark.Type)!;
        foreach (var (property, value) in benchmark.Parameters)
        {
            property.SetValue(instance, value);
        }

        foreach (var setup in benchmark.Type.GetMethods().Where(m => m.GetCustomAttribute<GlobalSetupAttribute>() is not null))
        {
            setup.Invoke(instance, null);
        }

        var method = benchmark.Method;
        if (method.ReturnType == typeof(void))
        {
            return AllocatedBy(method.CreateDelegate<Action>(instance), calls);
        }

        // A typed delegate, so the measured calls neither box the result nor go through reflection.
        var measure = typeof(DataPathAllocationTests).GetMethod(nameof(AllocatedByFunction), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(method.ReturnType);
        var function = method.CreateDelegate(typeof(Func<>).MakeGenericType(method.ReturnType), instance);
        return (long)measure.Invoke(null, [function, calls])!;
    }

    private static long AllocatedBy(Action call, int calls)
    {
        for (var i = 0; i < Math.Min(calls, WarmupCalls); i++)
        {
            call();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < calls; i++)
        {
            call();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static long AllocatedByFunction<T>(Func<T> call, int calls)
    {
        var sink = default(T);
        for (var i = 0; i < Math.Min(calls, WarmupCalls); i++)
        {
            sink = call();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < calls; i++)
        {
            sink = call();
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(sink);
        return allocated;
    }
}
