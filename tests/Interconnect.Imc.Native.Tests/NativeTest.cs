using System.Diagnostics;
using Interconnect.Testing;

namespace Interconnect.Imc.Native.Tests;

/// <summary>A test with a cluster of its own (hosts alpha and beta) and C programs run as processes of its hosts.</summary>
public abstract class NativeTest
{
    private readonly List<ProgramProcess> _programs = [];

    internal TemporaryCluster Cluster { get; private set; } = null!;

    [SetUp]
    public void CreateCluster() => Cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void RemoveCluster()
    {
        foreach (var program in _programs)
        {
            program.Dispose();
        }

        _programs.Clear();
        Cluster.Dispose();
    }

    /// <summary>Starts the C program <paramref name="source"/> (built with <paramref name="defines"/>) on <paramref name="host"/>.</summary>
    internal ProgramProcess Start(string source, string[] defines, string host, params string[] args)
    {
        var program = ProgramProcess.StartExecutable(CPrograms.Build(source, defines), CPrograms.Environment, Cluster.Root,
            TemporaryCluster.ClusterName, host, args);
        _programs.Add(program);
        return program;
    }

    internal ProgramProcess Start(string source, string host, params string[] args) => Start(source, [], host, args);

    /// <summary>Waits, with a deadline, until <paramref name="condition"/> holds.</summary>
    internal static void WaitUntil(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > limit)
            {
                Assert.Fail($"waited {limit.TotalSeconds} s for {what}");
            }

            Thread.Sleep(20);
        }
    }

    /// <summary>Waits until <paramref name="count"/> receive files exist: a direct region's memory and one per receiving host.</summary>
    internal void WaitForReceiveFiles(int count, ProgramProcess program) =>
        WaitUntil(() => Cluster.ReceiveFiles().Length >= count || program.HasExited,
            $"{count} receive files (the direct memory and a receiving host's)");
}
